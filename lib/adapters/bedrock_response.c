/* SPDX-License-Identifier: Apache-2.0 */
/* Responses and streams come back as OpenAI chat.completion(.chunk)s with
 * id "chatcmpl-bedrock-N" and the caller's model: text blocks joined into
 * message.content (null when none), toolUse blocks as tool_calls
 * (arguments = the serialized input), reasoningContent as
 * message.reasoning_content (delta.reasoning_content in streams); stop
 * reasons end_turn/stop_sequence → "stop", max_tokens → "length", tool_use
 * → "tool_calls", content_filtered/guardrail_intervened →
 * "content_filter"; prompt_tokens counts inputTokens plus cache reads and
 * writes, prompt_tokens_details.cached_tokens the cache reads.
 *
 * Errors: AWS bodies {"message"} or {"Message"}; the type is in the
 * x-amzn-ErrorType header, which the adapter does not see, so the status
 * comes from the HTTP code (400 → EBADREQUEST, 403 → EPERMISSION, 404 →
 * ENOTFOUND, 429 → ERATELIMIT, 5xx → EUPSTREAM). */
#include "adapters/bedrock_internal.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

static atomic_ullong bedrock_sequence;

void aigw__bedrock_next_id(char *id, size_t size) {
    snprintf(id, size, "chatcmpl-bedrock-%llu", (unsigned long long)++bedrock_sequence);
}

/* ---- responses ---- */

const char *aigw__bedrock_finish_reason(const char *stop_reason) {
    if (!stop_reason)
        return NULL;
    if (strcmp(stop_reason, "max_tokens") == 0)
        return "length";
    if (strcmp(stop_reason, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop_reason, "content_filtered") == 0 ||
        strcmp(stop_reason, "guardrail_intervened") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, anything new */
}

/* Like aigw__json_get_ll, but negative counts are -1 too. */
static long long get_ll(json_object *o, const char *key) {
    long long v = aigw__json_get_ll(o, key);
    return v >= 0 ? v : -1;
}

/* Reads a Converse usage object into u; fields it lacks stay as they were. */
void aigw__bedrock_read_usage(json_object *usage, aigw__usage *u) {
    if (!usage || !json_object_is_type(usage, json_type_object))
        return;
    long long in = get_ll(usage, "inputTokens");
    long long cr = get_ll(usage, "cacheReadInputTokens");
    long long cw = get_ll(usage, "cacheWriteInputTokens");
    long long out = get_ll(usage, "outputTokens");
    if (in >= 0) {
        u->input_tokens = aigw__tokens_add(aigw__tokens_add(in, cr > 0 ? cr : 0), cw > 0 ? cw : 0);
        u->cached_input_tokens = cr > 0 ? cr : 0;
    }
    if (out >= 0)
        u->output_tokens = out;
    if (u->input_tokens >= 0 && u->output_tokens >= 0)
        u->total_tokens = aigw__tokens_add(u->input_tokens, u->output_tokens);
}

/* Parses body as a JSON object into *root, or fails with EBADRESPONSE. */
static aigw_status parse_object(aigw__call *call, const char *body, size_t len, json_object **root,
                                aigw_error **err) {
    aigw_error *perr = NULL;
    if (aigw__json_parse(body, len, "upstream response", AIGW_EBADRESPONSE, root, &perr)) {
        aigw_status st = aigw__bad_response(call, body, len, aigw_error_message(perr), err);
        aigw_error_free(perr);
        return st;
    }
    if (!json_object_is_type(*root, json_type_object)) {
        json_object_put(*root);
        *root = NULL;
        return aigw__bad_response(call, body, len, "response is not a JSON object", err);
    }
    return AIGW_OK;
}

static aigw_status parse_converse(aigw__call *call, json_object *root, const char *body, size_t len,
                                  aigw__buf *out, aigw_error **err) {
    json_object *content =
        aigw__json_get(aigw__json_get(aigw__json_get(root, "output"), "message"), "content");
    if (!content || !json_object_is_type(content, json_type_array))
        return aigw__bad_response(
            call, body, len, "response is not a Converse answer (no output.message.content)", err);
    aigw__buf text = AIGW__BUF_INIT, thinking = AIGW__BUF_INIT;
    int has_text = 0, has_thinking = 0;
    aigw_status st = AIGW_OK;
    json_object *tool_calls = json_object_new_array(), *res = json_object_new_object();
    json_object *msg = json_object_new_object(), *choice = json_object_new_object(),
                *choices = json_object_new_array();
    int fail = !tool_calls || !res || !msg || !choice || !choices;
    for (size_t i = 0; !fail && !st && i < json_object_array_length(content); i++) {
        json_object *b = json_object_array_get_idx(content, i), *tu, *rc;
        const char *t;
        if ((t = aigw__json_get_string(b, "text")) != NULL) {
            fail = aigw__buf_puts(&text, t) != AIGW_OK;
            has_text = 1;
        } else if ((tu = aigw__json_get(b, "toolUse")) != NULL) {
            const char *id = aigw__json_get_string(tu, "toolUseId");
            const char *name = aigw__json_get_string(tu, "name");
            json_object *input = aigw__json_get(tu, "input");
            if (!id || !name) {
                st = aigw__bad_response(call, body, len, "toolUse block without toolUseId or name",
                                        err);
                break;
            }
            const char *args =
                input ? json_object_to_json_string_ext(input, AIGW__JSON_FLAGS) : "{}";
            json_object *tc = json_object_new_object(), *fn = json_object_new_object();
            if (!tc || !fn || aigw__json_put(fn, "name", json_object_new_string(name)) ||
                aigw__json_put(fn, "arguments", json_object_new_string(args ? args : "{}")) ||
                aigw__json_put(tc, "id", json_object_new_string(id)) ||
                aigw__json_put(tc, "type", json_object_new_string("function"))) {
                json_object_put(tc);
                json_object_put(fn);
                fail = 1;
            } else if (aigw__json_put(tc, "function", fn) || aigw__json_push(tool_calls, tc)) {
                fail = 1;
            }
        } else if ((rc = aigw__json_get(b, "reasoningContent")) != NULL) {
            const char *rt = aigw__json_get_string(aigw__json_get(rc, "reasoningText"), "text");
            if (rt && aigw__buf_puts(&thinking, rt))
                fail = 1;
            has_thinking = 1;
        } /* image, document, guardContent and unknown blocks are dropped */
    }
    const char *fr = aigw__bedrock_finish_reason(aigw__json_get_string(root, "stopReason"));
    if (!fail && !st) {
        char id[64];
        aigw__bedrock_next_id(id, sizeof id);
        aigw__bedrock_read_usage(aigw__json_get(root, "usage"), &call->usage);
        fail = aigw__json_put(msg, "role", json_object_new_string("assistant")) ||
               json_object_object_add(msg, "content",
                                      has_text ? json_object_new_string(text.data ? text.data : "")
                                               : NULL) ||
               (has_thinking &&
                aigw__json_put(msg, "reasoning_content",
                               json_object_new_string(thinking.data ? thinking.data : "")));
        if (!fail && json_object_array_length(tool_calls)) {
            fail = aigw__json_put(msg, "tool_calls", tool_calls);
            tool_calls = NULL;
        }
        fail = fail || aigw__json_put(choice, "index", json_object_new_int(0)) ||
               aigw__json_put(choice, "message", msg);
        msg = NULL;
        fail = fail ||
               json_object_object_add(choice, "finish_reason",
                                      fr ? json_object_new_string(fr) : NULL) ||
               json_object_object_add(choice, "logprobs", NULL) || aigw__json_push(choices, choice);
        choice = NULL;
        fail = fail || aigw__json_put(res, "id", json_object_new_string(id)) ||
               aigw__json_put(res, "object", json_object_new_string("chat.completion")) ||
               aigw__json_put(res, "created", json_object_new_int64((int64_t)time(NULL))) ||
               aigw__json_put(res, "model", json_object_new_string(call->model)) ||
               aigw__json_put(res, "choices", choices);
        choices = NULL;
        fail = fail ||
               aigw__json_put(res, "usage", aigw__openai_usage_json(&call->usage, AIGW__USAGE_SUM));
        size_t n;
        const char *s = fail ? NULL : json_object_to_json_string_length(res, AIGW__JSON_FLAGS, &n);
        if (!s || aigw__buf_append(out, s, n))
            fail = 1;
    }
    if (fail && !st)
        st = oom(err);
    json_object_put(tool_calls);
    json_object_put(msg);
    json_object_put(choice);
    json_object_put(choices);
    json_object_put(res);
    aigw__buf_free(&text);
    aigw__buf_free(&thinking);
    return st;
}

/* One embedding vector (array of numbers) as the OpenAI value: the array
 * itself, or base64 of float32 LE. NULL when the vector is malformed or on
 * allocation failure (*bad says which). */
static json_object *embedding_value(json_object *vec, int base64, int *bad) {
    if (!vec || !json_object_is_type(vec, json_type_array)) {
        *bad = 1;
        return NULL;
    }
    size_t n = json_object_array_length(vec);
    for (size_t i = 0; i < n; i++)
        if (!aigw__json_is_number(json_object_array_get_idx(vec, i))) {
            *bad = 1;
            return NULL;
        }
    if (!base64)
        return json_object_get(vec);
    if (n > (size_t)(INT32_MAX / 8)) {
        *bad = 1;
        return NULL;
    }
    unsigned char *raw = aigw__malloc(n * 4 + 1);
    char *enc = aigw__malloc(4 * ((n * 4 + 2) / 3) + 1);
    json_object *res = NULL;
    if (raw && enc) {
        for (size_t i = 0; i < n; i++) {
            float f = (float)json_object_get_double(json_object_array_get_idx(vec, i));
            uint32_t u;
            memcpy(&u, &f, 4);
            raw[i * 4] = (unsigned char)u;
            raw[i * 4 + 1] = (unsigned char)(u >> 8);
            raw[i * 4 + 2] = (unsigned char)(u >> 16);
            raw[i * 4 + 3] = (unsigned char)(u >> 24);
        }
        int elen = EVP_EncodeBlock((unsigned char *)enc, raw, (int)(n * 4));
        res = json_object_new_string_len(enc, elen);
    }
    aigw__free(raw);
    aigw__free(enc);
    return res;
}

static aigw_status parse_embed(aigw__call *call, json_object *root, const char *body, size_t len,
                               aigw__buf *out, aigw_error **err) {
    embed_family fam = aigw__bedrock_family_of(call->model);
    const char *fmt = aigw__json_get_string(call->request, "encoding_format");
    int base64 = fmt && strcmp(fmt, "base64") == 0;
    json_object *vectors = NULL;
    long long tokens = -1;
    if (fam == EMBED_TITAN) {
        vectors = json_object_new_array();
        if (!vectors)
            return oom(err);
        json_object *e = aigw__json_get(root, "embedding");
        if (e && aigw__json_push(vectors, json_object_get(e))) {
            json_object_put(vectors);
            return oom(err);
        }
        tokens = get_ll(root, "inputTextTokenCount");
    } else if (fam == EMBED_COHERE) {
        json_object *e = aigw__json_get(root, "embeddings");
        if (e && json_object_is_type(e, json_type_object))
            e = aigw__json_get(e, "float"); /* embedding_types form */
        vectors = json_object_get(e);
    } else {
        return aigw__bad_response(call, body, len, "embeddings answer for an unknown model family",
                                  err);
    }
    if (!vectors || !json_object_is_type(vectors, json_type_array) ||
        !json_object_array_length(vectors)) {
        json_object_put(vectors);
        return aigw__bad_response(call, body, len, "response holds no embeddings", err);
    }
    aigw_status st = AIGW_OK;
    json_object *res = json_object_new_object(), *data = json_object_new_array();
    int fail = !res || !data, bad = 0;
    for (size_t i = 0; !fail && i < json_object_array_length(vectors); i++) {
        json_object *v = embedding_value(json_object_array_get_idx(vectors, i), base64, &bad);
        if (!v) {
            fail = 1;
            break;
        }
        json_object *item = json_object_new_object();
        if (!item || aigw__json_put(item, "object", json_object_new_string("embedding")) ||
            aigw__json_put(item, "index", json_object_new_int64((int64_t)i))) {
            json_object_put(item);
            json_object_put(v);
            fail = 1;
        } else if (aigw__json_put(item, "embedding", v) || aigw__json_push(data, item)) {
            json_object_put(item);
            fail = 1;
        }
    }
    if (bad) {
        st = aigw__bad_response(call, body, len, "an embedding is not an array of numbers", err);
    } else if (!fail) {
        if (tokens >= 0) {
            call->usage.input_tokens = tokens;
            call->usage.output_tokens = 0;
            call->usage.total_tokens = tokens;
        }
        json_object *u = json_object_new_object();
        long long t = tokens >= 0 ? tokens : 0;
        fail = !u || aigw__json_put(u, "prompt_tokens", json_object_new_int64(t)) ||
               aigw__json_put(u, "total_tokens", json_object_new_int64(t));
        if (fail) {
            json_object_put(u);
        } else {
            fail = aigw__json_put(res, "object", json_object_new_string("list")) ||
                   aigw__json_put(res, "data", data);
            data = NULL;
            fail = fail || aigw__json_put(res, "model", json_object_new_string(call->model)) ||
                   aigw__json_put(res, "usage", u);
            size_t n;
            const char *s =
                fail ? NULL : json_object_to_json_string_length(res, AIGW__JSON_FLAGS, &n);
            if (!s || aigw__buf_append(out, s, n))
                fail = 1;
        }
    }
    if (fail && !st)
        st = oom(err);
    json_object_put(data);
    json_object_put(res);
    json_object_put(vectors);
    return st;
}

aigw_status aigw__bedrock_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                aigw_error **err) {
    if (call->op != AIGW__OP_CHAT && call->op != AIGW__OP_EMBED)
        return aigw__bad_response(call, body, len,
                                  "only chat and embeddings responses are expected", err);
    json_object *root = NULL;
    aigw_status st = parse_object(call, body, len, &root, err);
    if (st)
        return st;
    st = call->op == AIGW__OP_CHAT ? parse_converse(call, root, body, len, out, err)
                                   : parse_embed(call, root, body, len, out, err);
    json_object_put(root);
    return st;
}

/* The message of an AWS error body ({"message"} or {"Message"}) copied into
 * buf; "" if none. */
void aigw__bedrock_aws_message(const char *body, size_t len, char *buf, size_t size) {
    buf[0] = '\0';
    json_object *root = NULL;
    if (!body || aigw__json_parse(body, len, "error body", AIGW_EBADRESPONSE, &root, NULL))
        return;
    const char *m = aigw__json_get_string(root, "message");
    if (!m)
        m = aigw__json_get_string(root, "Message");
    if (m)
        snprintf(buf, size, "%s", m);
    json_object_put(root);
}

aigw_status aigw__bedrock_error(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err) {
    char msg[1024];
    aigw__bedrock_aws_message(body, len, msg, sizeof msg);
    if (!msg[0]) { /* not AWS JSON: quote the start of the body */
        size_t n = len < 200 ? len : 200;
        size_t j = 0;
        for (size_t i = 0; body && i < n && j + 1 < sizeof msg; i++) {
            unsigned char ch = (unsigned char)body[i];
            msg[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
        }
        msg[j] = '\0';
        if (!j)
            snprintf(msg, sizeof msg, "(no message)");
    }
    aigw_status st = aigw__status_from_http(http_status);
    if (st == AIGW_OK)
        st = AIGW_EUPSTREAM_STATUS;
    return aigw__error_set_upstream(err, st, call->backend->name, (int)http_status, body, len,
                                    "backend \"%s\": HTTP %ld: %s", call->backend->name,
                                    http_status, msg);
}
