/* SPDX-License-Identifier: Apache-2.0 */
/* The Amazon Bedrock Runtime wire format (Converse, ConverseStream over the
 * AWS event-stream encoding, InvokeModel for Titan and Cohere embeddings),
 * from AWS's public API reference, served under /model/. Answers are
 * deterministic: the reply echoes the last user message, or calls the first
 * tool. With --aws-access-key-id / --aws-secret-access-key every request
 * must carry a valid SigV4 signature (sim_sigv4.c). */
#include "sim_router.h"
#include "sim_sigv4.h"
#include "sim_sigv4_internal.h"
#include "sim_tokens.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define BR_PREFIX "/model/"
#define NS_BEDROCK "http://internal.amazon.com/coral/com.amazon.bedrock/"
#define NS_CORAL "http://internal.amazon.com/coral/com.amazon.coral.service/"

void sim_bedrock_configure(const char *access_key_id, const char *secret_access_key,
                           const char *region);
void sim_bedrock_register(void);

static struct { const char *key_id, *secret, *region; } aws = {NULL, NULL, "us-east-1"};

static unsigned long req_seq, tool_seq;
/* Set by br_authorized for the request being dispatched: it carried the
 * --api-key as a Bedrock API key (Authorization: Bearer KEY). */
static int bearer_ok;

void sim_bedrock_configure(const char *access_key_id, const char *secret_access_key,
                           const char *region) {
    aws.key_id = access_key_id;
    aws.secret = secret_access_key;
    if (region)
        aws.region = region;
}

/* ---- errors ---- */

static void request_id(sim_response *res) {
    char id[48];
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012lu", ++req_seq);
    sim_res_header(res, "x-amzn-RequestId", id);
}

static void br_error_typed(sim_response *res, int status, const char *type, const char *ns,
                           const char *message) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(message));
    sim_res_json(res, status, o);
    json_object_put(o);
    char v[160];
    snprintf(v, sizeof(v), "%s:%s", type, ns);
    sim_res_header(res, "x-amzn-ErrorType", v);
    request_id(res);
}

static void br_invalid(sim_response *res, const char *message) {
    br_error_typed(res, 400, "ValidationException", NS_BEDROCK, message);
}

static void br_error(sim_response *res, int status, const char *message) {
    const char *type = "ValidationException", *ns = NS_BEDROCK, *dflt = NULL;
    char buf[96];
    switch (status) {
    case 400:
        dflt = "Malformed input request, please reformat your input and try again.";
        break;
    case 401:
    case 403:
        if (status == 401) {
            type = "UnrecognizedClientException";
            ns = NS_CORAL;
            dflt = "The security token included in the request is invalid.";
        } else {
            type = "AccessDeniedException";
            dflt = "You don't have access to the model with the specified model ID.";
        }
        break;
    case 404:
        type = "ResourceNotFoundException";
        dflt = "The requested resource could not be found.";
        break;
    case 408:
        type = "ModelTimeoutException";
        dflt = "Model has timed out in processing the request. Try your request again.";
        break;
    case 424:
        type = "ModelErrorException";
        dflt = "The model returned an error (simulated).";
        break;
    case 429:
        type = "ThrottlingException";
        dflt = "Too many requests, please wait before trying again.";
        break;
    case 503:
        type = "ServiceUnavailableException";
        dflt = "Service is temporarily unavailable (simulated).";
        break;
    default:
        if (status >= 500) {
            type = "InternalServerException";
            dflt = "The server encountered an internal error (simulated).";
        }
        break;
    }
    if (!message)
        message = dflt;
    if (!message) {
        snprintf(buf, sizeof(buf), "Simulated error (HTTP %d).", status);
        message = buf;
    }
    br_error_typed(res, status, type, ns, message);
}

/* ---- auth ---- */

static int br_authorized(const sim_request *req, const char *api_key) {
    const char *h = sim_request_header(req, "authorization");
    bearer_ok = h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, api_key) == 0;
    if (bearer_ok)
        return 1;
    /* a SigV4 request: the handler checks the signature */
    char akid[64];
    return h && strncmp(h, "AWS4-HMAC-SHA256 ", 17) == 0 &&
           (aws.key_id || (sim_sigv4_key_id(req, akid, sizeof(akid)) == 0 && sim_aws_lookup(akid)));
}

/* The region a request is for: from a Host like
 * bedrock-runtime.REGION.amazonaws.com, else --aws-region. */
static void request_region(const sim_request *req, char *out, size_t outlen) {
    const char *host = sim_request_header(req, "host");
    snprintf(out, outlen, "%s", aws.region);
    if (!host || strncmp(host, "bedrock-runtime", 15) != 0)
        return;
    const char *dot = strchr(host, '.');
    if (!dot)
        return;
    const char *end = strchr(dot + 1, '.');
    if (!end || end == dot + 1 || (size_t)(end - dot - 1) >= outlen)
        return;
    snprintf(out, outlen, "%.*s", (int)(end - dot - 1), dot + 1);
}

/* With --aws-access-key-id, the SigV4 check (after the faults); 403 otherwise. */
static int sigv4_ok(const sim_request *req, sim_response *res) {
    int bearer = bearer_ok;
    bearer_ok = 0;
    /* temporary credentials the simulator issued (STS, container endpoint) */
    char akid[64];
    const sim_aws_creds *issued = NULL;
    if (!bearer && sim_sigv4_key_id(req, akid, sizeof(akid)) == 0)
        issued = sim_aws_lookup(akid);
    if ((!aws.key_id && !issued) || bearer)
        return 1;
    char region[64], why[512];
    request_region(req, region, sizeof(region));
    int rc = issued ? sim_sigv4_verify(req, issued->access_key_id, issued->secret_access_key,
                                       region, "bedrock", why, sizeof(why))
                    : sim_sigv4_verify(req, aws.key_id, aws.secret ? aws.secret : "", region,
                                       "bedrock", why, sizeof(why));
    if (rc == 0 && issued) {
        const char *tok = sim_request_header(req, "x-amz-security-token");
        if (tok && strcmp(tok, issued->session_token) == 0)
            return 1;
        snprintf(why, sizeof(why), "The security token included in the request is invalid.");
        rc = SIM_SIGV4_UNKNOWN_KEY;
    }
    if (rc == 0)
        return 1;
    const char *type = "InvalidSignatureException";
    switch (rc) {
    case SIM_SIGV4_MISSING:
        type = "MissingAuthenticationTokenException";
        break;
    case SIM_SIGV4_INCOMPLETE:
        type = "IncompleteSignatureException";
        break;
    case SIM_SIGV4_UNKNOWN_KEY:
        type = "UnrecognizedClientException";
        break;
    default:
        break;
    }
    br_error_typed(res, 403, type, NS_CORAL, why);
    return 0;
}

/* ---- helpers ---- */

static json_object *get(json_object *o, const char *key) {
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v))
        return v;
    return NULL;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v = get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A 200 JSON answer, or (fault malformed=1) a body that is not JSON. */
static void br_json(const sim_request *req, sim_response *res, json_object *obj) {
    if (req->fault.malformed) {
        static const char bad[] = "{\"output\": {\"message\": <this is not JSON";
        sim_res_body(res, 200, "application/json", bad, sizeof(bad) - 1);
    } else {
        sim_res_json(res, 200, obj);
    }
    request_id(res);
}

/* The percent-decoded {modelId} of /model/{modelId}/ACTION (caller frees). */
static char *model_id(const sim_request *req) {
    const char *s = req->path + strlen(BR_PREFIX);
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    char *out = sim_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* ---- event stream ---- */

static void put_u32(sim_buf *b, uint32_t v) {
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sim_buf_append(b, p, 4);
}

static void put_str_header(sim_buf *b, const char *name, const char *value) {
    size_t nl = strlen(name), vl = strlen(value);
    unsigned char h[1] = {(unsigned char)nl};
    sim_buf_append(b, h, 1);
    sim_buf_append(b, name, nl);
    unsigned char t[3] = {7, (unsigned char)(vl >> 8), (unsigned char)vl};
    sim_buf_append(b, t, 3);
    sim_buf_append(b, value, vl);
}

static uint32_t crc(const void *p, size_t n) {
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* One event-stream message: MESSAGE_TYPE "event" (TYPE is the :event-type)
 * or "exception" (TYPE is the :exception-type); BAD_CRC corrupts the
 * message CRC. Takes OBJ. */
static void es_message(sim_response *res, const char *message_type, const char *type,
                       json_object *obj, int bad_crc) {
    size_t plen;
    char *payload = sim_json_dump(obj, &plen);
    json_object_put(obj);
    sim_buf hdrs = {0};
    put_str_header(&hdrs, strcmp(message_type, "event") == 0 ? ":event-type" : ":exception-type",
                   type);
    put_str_header(&hdrs, ":content-type", "application/json");
    put_str_header(&hdrs, ":message-type", message_type);
    sim_buf m = {0};
    put_u32(&m, (uint32_t)(12 + hdrs.len + plen + 4));
    put_u32(&m, (uint32_t)hdrs.len);
    put_u32(&m, crc(m.data, 8));
    sim_buf_append(&m, hdrs.data, hdrs.len);
    sim_buf_append(&m, payload, plen);
    put_u32(&m, crc(m.data, m.len) ^ (bad_crc ? 0xDEADBEEFu : 0));
    sim_res_event(res, m.data, m.len);
    sim_buf_free(&m);
    sim_buf_free(&hdrs);
    free(payload);
}

/* ---- converse ---- */

typedef struct conv {
    char *text;      /* the answer, or NULL for a tool call */
    char *tool_name; /* the toolUse block's name */
    char *input;     /* its JSON-encoded input */
    char tool_id[40];
    const char *stop_reason;
    size_t input_tokens, output_tokens;
} conv;

static void conv_free(conv *c) {
    free(c->text);
    free(c->tool_name);
    free(c->input);
}

static size_t words(const char *s) {
    return sim_count_words(s, strlen(s));
}

/* Appends the text blocks of CONTENT to OUT (may be NULL), counts the words
 * of text blocks and toolResult text into *WORDS, notes a toolResult. */
static void blocks_text(json_object *content, sim_buf *out, size_t *nwords, int *tool_result) {
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *t = get_str(b, "text");
        if (t) {
            if (out)
                sim_buf_puts(out, t);
            *nwords += words(t);
        }
        json_object *tr = get(b, "toolResult");
        if (tr) {
            if (tool_result)
                *tool_result = 1;
            blocks_text(get(tr, "content"), NULL, nwords, NULL);
        }
    }
}

/* Checks the request and computes the answer; 0, or -1 with RES filled. */
static int converse_answer(const sim_request *req, sim_response *res, conv *c) {
    char msg[256];
    json_object *body = req->json;
    memset(c, 0, sizeof(*c));
    if (!body || !json_object_is_type(body, json_type_object)) {
        br_invalid(res, "Malformed input request, please reformat your input and try again.");
        return -1;
    }
    json_object *msgs = get(body, "messages");
    if (!msgs || !json_object_is_type(msgs, json_type_array)) {
        br_invalid(res, msgs ? "1 validation error detected: Value at 'messages' failed to "
                               "satisfy constraint: Member must be a list"
                             : "1 validation error detected: Value null at 'messages' failed "
                               "to satisfy constraint: Member must not be null");
        return -1;
    }
    size_t nmsg = json_object_array_length(msgs);
    if (nmsg == 0) {
        br_invalid(res, "A conversation must start with a user message. Try again with a "
                        "conversation that starts with a user message.");
        return -1;
    }
    json_object *last_user = NULL;
    int prev_user = 0;
    for (size_t i = 0; i < nmsg; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = get_str(m, "role");
        if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            snprintf(msg, sizeof(msg),
                     "1 validation error detected: Value '%.40s' at 'messages.%zu.member.role' "
                     "failed to satisfy constraint: Member must satisfy enum value set: "
                     "[user, assistant]",
                     role ? role : "null", i + 1);
            br_invalid(res, msg);
            return -1;
        }
        int is_user = strcmp(role, "user") == 0;
        if (i == 0 && !is_user) {
            br_invalid(res, "A conversation must start with a user message. Try again with a "
                            "conversation that starts with a user message.");
            return -1;
        }
        if (i > 0 && is_user == prev_user) {
            br_invalid(res, "A conversation must alternate between user and assistant roles. "
                            "Make sure the conversation alternates between user and assistant "
                            "roles and try again.");
            return -1;
        }
        prev_user = is_user;
        json_object *content = get(m, "content");
        int ok = content && json_object_is_type(content, json_type_array) &&
                 json_object_array_length(content) > 0;
        for (size_t j = 0; ok && j < json_object_array_length(content); j++) {
            json_object *b = json_object_array_get_idx(content, j);
            json_object *t = get(b, "text");
            if (!b || !json_object_is_type(b, json_type_object) ||
                json_object_object_length(b) == 0 ||
                (t && !json_object_is_type(t, json_type_string)))
                ok = 0;
        }
        if (!ok) {
            snprintf(msg, sizeof(msg),
                     "1 validation error detected: Value at 'messages.%zu.member.content' "
                     "failed to satisfy constraint: Member must be a non-empty list of content "
                     "blocks",
                     i + 1);
            br_invalid(res, msg);
            return -1;
        }
        blocks_text(content, NULL, &c->input_tokens, NULL);
        if (is_user)
            last_user = m;
    }
    json_object *sys = get(body, "system");
    if (sys && !json_object_is_type(sys, json_type_array)) {
        br_invalid(res, "1 validation error detected: Value at 'system' failed to satisfy "
                        "constraint: Member must be a list");
        return -1;
    }
    blocks_text(sys, NULL, &c->input_tokens, NULL);

    json_object *inf = get(body, "inferenceConfig");
    json_object *max_tokens = get(inf, "maxTokens");
    json_object *stops = get(inf, "stopSequences");
    if (max_tokens && (!json_object_is_type(max_tokens, json_type_int) ||
                       json_object_get_int64(max_tokens) < 1)) {
        br_invalid(res, "1 validation error detected: Value at 'inferenceConfig.maxTokens' "
                        "failed to satisfy constraint: Member must have value greater than or "
                        "equal to 1");
        return -1;
    }
    if (stops && !json_object_is_type(stops, json_type_array)) {
        br_invalid(res, "1 validation error detected: Value at 'inferenceConfig.stopSequences' "
                        "failed to satisfy constraint: Member must be a list");
        return -1;
    }
    for (size_t i = 0; stops && i < json_object_array_length(stops); i++) {
        json_object *s = json_object_array_get_idx(stops, i);
        if (!s || !json_object_is_type(s, json_type_string)) {
            br_invalid(res, "1 validation error detected: Value at "
                            "'inferenceConfig.stopSequences' failed to satisfy constraint: "
                            "Member must be a list of strings");
            return -1;
        }
    }

    sim_buf user_text = {0};
    size_t ignored = 0;
    int tool_result = 0;
    blocks_text(get(last_user, "content"), &user_text, &ignored, &tool_result);

    json_object *tools = get(get(body, "toolConfig"), "tools");
    const char *tool_name = NULL;
    if (tools && json_object_is_type(tools, json_type_array) &&
        json_object_array_length(tools) > 0 && !tool_result) {
        tool_name = get_str(get(json_object_array_get_idx(tools, 0), "toolSpec"), "name");
        if (!tool_name) {
            sim_buf_free(&user_text);
            br_invalid(res, "1 validation error detected: Value null at "
                            "'toolConfig.tools.1.member.toolSpec.name' failed to satisfy "
                            "constraint: Member must not be null");
            return -1;
        }
    }
    if (tool_name) {
        json_object *in = json_object_new_object();
        json_object_object_add(
            in, "text",
            json_object_new_string_len(user_text.data ? user_text.data : "", (int)user_text.len));
        c->input = sim_json_dump(in, NULL);
        json_object_put(in);
        c->tool_name = sim_xstrdup(tool_name);
        snprintf(c->tool_id, sizeof(c->tool_id), "tooluse_sim%lu", ++tool_seq);
        c->stop_reason = "tool_use";
        c->output_tokens = words(c->input);
    } else {
        sim_buf a = {0};
        sim_buf_puts(&a, "echo: ");
        if (user_text.len)
            sim_buf_append(&a, user_text.data, user_text.len);
        c->text = sim_buf_take(&a, NULL);
        c->stop_reason = "end_turn";
        /* the earliest stop sequence cuts the answer */
        const char *best = NULL;
        for (size_t i = 0; stops && i < json_object_array_length(stops); i++) {
            const char *seq = json_object_get_string(json_object_array_get_idx(stops, i));
            const char *hit = *seq ? strstr(c->text, seq) : NULL;
            if (hit && (!best || hit < best))
                best = hit;
        }
        if (best) {
            c->text[best - c->text] = '\0';
            c->stop_reason = "stop_sequence";
        }
        /* maxTokens (one token per word) cuts after that many words */
        if (max_tokens && (int64_t)words(c->text) > json_object_get_int64(max_tokens)) {
            int64_t keep = json_object_get_int64(max_tokens), seen = 0;
            size_t i = 0, len = strlen(c->text);
            while (i < len) {
                while (i < len && isspace((unsigned char)c->text[i]))
                    i++;
                if (i == len || seen == keep)
                    break;
                while (i < len && !isspace((unsigned char)c->text[i]))
                    i++;
                seen++;
            }
            /* drop the whitespace after the last kept word */
            while (i > 0 && isspace((unsigned char)c->text[i - 1]))
                i--;
            c->text[i] = '\0';
            c->stop_reason = "max_tokens";
        }
        c->output_tokens = words(c->text);
    }
    sim_buf_free(&user_text);
    return 0;
}

static json_object *usage_obj(const conv *c) {
    json_object *u = json_object_new_object();
    json_object_object_add(u, "inputTokens", json_object_new_int64((int64_t)c->input_tokens));
    json_object_object_add(u, "outputTokens", json_object_new_int64((int64_t)c->output_tokens));
    json_object_object_add(u, "totalTokens",
                           json_object_new_int64((int64_t)(c->input_tokens + c->output_tokens)));
    return u;
}

static json_object *metrics_obj(void) {
    json_object *m = json_object_new_object();
    json_object_object_add(m, "latencyMs", json_object_new_int(1));
    return m;
}

static void converse(const sim_request *req, sim_response *res) {
    if (!sigv4_ok(req, res))
        return;
    conv c;
    if (converse_answer(req, res, &c) != 0)
        return;
    json_object *block = json_object_new_object();
    if (c.text) {
        json_object_object_add(block, "text", json_object_new_string(c.text));
    } else {
        json_object *tu = json_object_new_object();
        json_object_object_add(tu, "toolUseId", json_object_new_string(c.tool_id));
        json_object_object_add(tu, "name", json_object_new_string(c.tool_name));
        json_object_object_add(tu, "input", json_tokener_parse(c.input));
        json_object_object_add(block, "toolUse", tu);
    }
    json_object *content = json_object_new_array();
    json_object_array_add(content, block);
    json_object *message = json_object_new_object();
    json_object_object_add(message, "role", json_object_new_string("assistant"));
    json_object_object_add(message, "content", content);
    json_object *output = json_object_new_object();
    json_object_object_add(output, "message", message);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "output", output);
    json_object_object_add(o, "stopReason", json_object_new_string(c.stop_reason));
    json_object_object_add(o, "usage", usage_obj(&c));
    json_object_object_add(o, "metrics", metrics_obj());
    br_json(req, res, o);
    json_object_put(o);
    conv_free(&c);
}

/* The end of the piece starting at START: a word and the whitespace after it. */
static size_t next_word_end(const char *s, size_t len, size_t start) {
    size_t i = start;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    while (i < len && !isspace((unsigned char)s[i]))
        i++;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    return i;
}

/* Fragments of about 8 bytes, at UTF-8 boundaries. */
static size_t next_fragment_end(const char *s, size_t len, size_t start) {
    size_t i = start + 8;
    if (i >= len)
        return len;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

static json_object *indexed(void) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "contentBlockIndex", json_object_new_int(0));
    return o;
}

static void stream_exception(sim_response *res) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "message", json_object_new_string("simulated mid-stream failure"));
    es_message(res, "exception", "modelStreamErrorException", e, 0);
    res->abort_after_events = 1;
}

static void converse_stream(const sim_request *req, sim_response *res) {
    if (!sigv4_ok(req, res))
        return;
    conv c;
    if (converse_answer(req, res, &c) != 0)
        return;
    const sim_fault *f = &req->fault;
    sim_res_stream(res, 200, "application/vnd.amazon.eventstream");
    request_id(res);

    json_object *ev = json_object_new_object();
    json_object_object_add(ev, "role", json_object_new_string("assistant"));
    es_message(res, "event", "messageStart", ev, f->malformed);

    if (!c.text) {
        json_object *tu = json_object_new_object();
        json_object_object_add(tu, "toolUseId", json_object_new_string(c.tool_id));
        json_object_object_add(tu, "name", json_object_new_string(c.tool_name));
        json_object *start = json_object_new_object();
        json_object_object_add(start, "toolUse", tu);
        ev = indexed();
        json_object_object_add(ev, "start", start);
        es_message(res, "event", "contentBlockStart", ev, 0);
    }

    const char *text = c.text ? c.text : c.input;
    size_t len = strlen(text), pos = 0;
    while (pos < len) {
        size_t end = c.text ? next_word_end(text, len, pos) : next_fragment_end(text, len, pos);
        json_object *piece = json_object_new_string_len(text + pos, (int)(end - pos));
        json_object *delta = json_object_new_object();
        if (c.text) {
            json_object_object_add(delta, "text", piece);
        } else {
            json_object *tu = json_object_new_object();
            json_object_object_add(tu, "input", piece);
            json_object_object_add(delta, "toolUse", tu);
        }
        ev = indexed();
        json_object_object_add(ev, "delta", delta);
        es_message(res, "event", "contentBlockDelta", ev, 0);
        if (f->error_event) { /* after the first delta */
            stream_exception(res);
            conv_free(&c);
            return;
        }
        pos = end;
    }
    if (f->error_event) { /* no delta at all */
        stream_exception(res);
        conv_free(&c);
        return;
    }

    es_message(res, "event", "contentBlockStop", indexed(), 0);
    if (!f->drop_done) {
        ev = json_object_new_object();
        json_object_object_add(ev, "stopReason", json_object_new_string(c.stop_reason));
        es_message(res, "event", "messageStop", ev, 0);
        ev = json_object_new_object();
        json_object_object_add(ev, "usage", usage_obj(&c));
        json_object_object_add(ev, "metrics", metrics_obj());
        es_message(res, "event", "metadata", ev, 0);
    }
    conv_free(&c);
}

/* ---- invoke: embeddings ---- */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A vector of DIMS numbers determined by TEXT; unit length when NORMALIZE,
 * else of length 2. */
static json_object *vector(const char *text, size_t dims, int normalize) {
    uint64_t seed = fnv1a(text, strlen(text));
    double *tmp = sim_xmalloc(dims * sizeof(double)), norm = 0;
    for (size_t i = 0; i < dims; i++) {
        tmp[i] = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        norm += tmp[i] * tmp[i];
    }
    norm = sqrt(norm);
    double scale = norm > 0 ? (normalize ? 1.0 : 2.0) / norm : 0;
    json_object *arr = json_object_new_array_ext((int)dims);
    for (size_t i = 0; i < dims; i++)
        json_object_array_add(arr, json_object_new_double((double)(float)(tmp[i] * scale)));
    free(tmp);
    return arr;
}

static void token_count_header(sim_response *res, size_t n) {
    char v[32];
    snprintf(v, sizeof(v), "%zu", n);
    sim_res_header(res, "X-Amzn-Bedrock-Input-Token-Count", v);
    sim_res_header(res, "X-Amzn-Bedrock-Invocation-Latency", "1");
}

static void titan_embed(const sim_request *req, sim_response *res, size_t max_dims,
                        size_t default_dims) {
    json_object *body = req->json;
    const char *text = get_str(body, "inputText");
    if (!text) {
        br_invalid(res, "Malformed input request: #: required key [inputText] not found, please "
                        "reformat your input and try again.");
        return;
    }
    size_t dims = default_dims;
    json_object *d = get(body, "dimensions");
    if (d) {
        int64_t v = json_object_is_type(d, json_type_int) ? json_object_get_int64(d) : 0;
        if (max_dims != default_dims || v < 1 || v > (int64_t)max_dims) {
            br_invalid(res, "Malformed input request: #/dimensions: invalid value, please "
                            "reformat your input and try again.");
            return;
        }
        dims = (size_t)v;
    }
    json_object *nz = get(body, "normalize");
    if (nz && !json_object_is_type(nz, json_type_boolean)) {
        br_invalid(res, "Malformed input request: #/normalize: expected type: Boolean, please "
                        "reformat your input and try again.");
        return;
    }
    int normalize = nz ? json_object_get_boolean(nz) : 1;
    size_t n = words(text);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "embedding", vector(text, dims, normalize));
    json_object_object_add(o, "inputTextTokenCount", json_object_new_int64((int64_t)n));
    br_json(req, res, o);
    json_object_put(o);
    token_count_header(res, n);
}

static void cohere_embed(const sim_request *req, sim_response *res) {
    json_object *body = req->json;
    json_object *texts = get(body, "texts");
    size_t n =
        texts && json_object_is_type(texts, json_type_array) ? json_object_array_length(texts) : 0;
    if (n == 0 || n > 96) {
        br_invalid(res, "Malformed input request: #/texts: expected an array of 1 to 96 "
                        "strings, please reformat your input and try again.");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(texts, i);
        if (!t || !json_object_is_type(t, json_type_string)) {
            br_invalid(res, "Malformed input request: #/texts: expected type: String, please "
                            "reformat your input and try again.");
            return;
        }
    }
    const char *it = get_str(body, "input_type");
    static const char *const types[] = {"search_document", "search_query", "classification",
                                        "clustering"};
    int ok = 0;
    for (size_t i = 0; it && i < sizeof(types) / sizeof(types[0]); i++)
        ok |= strcmp(it, types[i]) == 0;
    if (!ok) {
        br_invalid(res, "Malformed input request: #/input_type: must be one of "
                        "search_document, search_query, classification, clustering, please "
                        "reformat your input and try again.");
        return;
    }
    json_object *embs = json_object_new_array();
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = json_object_get_string(json_object_array_get_idx(texts, i));
        json_object_array_add(embs, vector(t, 1024, 1));
        tokens += words(t);
    }
    char id[48];
    snprintf(id, sizeof(id), "00000000-0000-4000-9000-%012lu", req_seq + 1);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "embeddings", embs);
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "response_type", json_object_new_string("embeddings_floats"));
    json_object *tcopy = NULL;
    json_object_deep_copy(texts, &tcopy, NULL);
    json_object_object_add(o, "texts", tcopy);
    br_json(req, res, o);
    json_object_put(o);
    token_count_header(res, tokens);
}

/* MODEL is ID exactly or ID followed by a ":version" suffix. */
static int model_is(const char *model, const char *id) {
    size_t n = strlen(id);
    return strncmp(model, id, n) == 0 && (model[n] == '\0' || model[n] == ':');
}

static void invoke(const sim_request *req, sim_response *res) {
    if (!sigv4_ok(req, res))
        return;
    if (!req->json || !json_object_is_type(req->json, json_type_object)) {
        br_invalid(res, "Malformed input request, please reformat your input and try again.");
        return;
    }
    char *model = model_id(req);
    if (strcmp(model, "amazon.titan-embed-text-v2:0") == 0)
        titan_embed(req, res, 1024, 1024);
    else if (model_is(model, "amazon.titan-embed-text-v1"))
        titan_embed(req, res, 1536, 1536);
    else if (model_is(model, "cohere.embed-english-v3") ||
             model_is(model, "cohere.embed-multilingual-v3"))
        cohere_embed(req, res);
    else
        br_invalid(res, "The provided model identifier is invalid.");
    free(model);
}

static const sim_route bedrock_routes[] = {
    {"POST", BR_PREFIX "*/converse", converse},
    {"POST", BR_PREFIX "*/converse-stream", converse_stream},
    {"POST", BR_PREFIX "*/invoke", invoke},
};

static const sim_provider bedrock_provider = {
    .name = "bedrock",
    .prefix = BR_PREFIX,
    .routes = bedrock_routes,
    .nroutes = sizeof(bedrock_routes) / sizeof(bedrock_routes[0]),
    .authorized = br_authorized,
    .error = br_error,
};

void sim_bedrock_register(void) {
    sim_router_register(&bedrock_provider);
}
