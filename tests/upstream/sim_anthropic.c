/* SPDX-License-Identifier: Apache-2.0 */
/* The Anthropic wire format (Messages API, models list), from Anthropic's
 * public API reference, served under /anthropic/v1/ so that it coexists with
 * OpenAI's /v1/. Answers are deterministic: the reply echoes the last user
 * message, or calls the first tool. */
#include "sim_router.h"
#include "sim_vertex.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AN_PREFIX "/anthropic/v1/"

static unsigned long msg_seq;
/* Set once the router has asked for the API key: --api-key is configured, so
 * the anthropic-version header is required too. */
static int key_required;

/* ---- errors ---- */

static void an_error_typed(sim_response *res, int status, const char *type, const char *message) {
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("error"));
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void an_invalid(sim_response *res, const char *message) {
    an_error_typed(res, 400, "invalid_request_error", message);
}

static void an_error(sim_response *res, int status, const char *message) {
    char buf[96];
    const char *type = "invalid_request_error";
    const char *dflt = NULL;
    switch (status) {
    case 401:
        type = "authentication_error";
        dflt = "invalid x-api-key";
        break;
    case 403:
        type = "permission_error";
        dflt = "Your API key does not have permission to use the specified resource.";
        break;
    case 404:
        type = "not_found_error";
        dflt = "Not found.";
        break;
    case 413:
        type = "request_too_large";
        dflt = "Request exceeds the maximum allowed number of bytes.";
        break;
    case 429:
        type = "rate_limit_error";
        dflt = "Number of requests has exceeded your rate limit (simulated).";
        break;
    case 529:
        type = "overloaded_error";
        dflt = "Overloaded (simulated).";
        break;
    default:
        if (status >= 500) {
            type = "api_error";
            dflt = "Internal server error (simulated).";
        }
        break;
    }
    if (!message)
        message = dflt;
    if (!message) {
        snprintf(buf, sizeof(buf), "Simulated error (HTTP %d).", status);
        message = buf;
    }
    an_error_typed(res, status, type, message);
}

static int an_authorized(const sim_request *req, const char *api_key) {
    key_required = 1;
    const char *h = sim_request_header(req, "x-api-key");
    return h && strcmp(h, api_key) == 0;
}

/* With --api-key, every request also needs anthropic-version (else 400). */
static int version_ok(const sim_request *req, sim_response *res) {
    if (!key_required || sim_request_header(req, "anthropic-version"))
        return 1;
    an_invalid(res, "anthropic-version: header is required");
    return 0;
}

/* A 200 JSON answer, or (fault malformed=1) a body that is not JSON. */
static void an_json(const sim_request *req, sim_response *res, json_object *obj) {
    if (req->fault.malformed) {
        static const char bad[] = "{\"id\": \"msg_sim_malformed\", \"type\": <this is not JSON";
        sim_res_body(res, 200, "application/json", bad, sizeof(bad) - 1);
        return;
    }
    sim_res_json(res, 200, obj);
}

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

/* 1 when any object inside O has a "cache_control" field. */
static int has_cache_control(json_object *o) {
    if (!o)
        return 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val) {
            if (strcmp(key, "cache_control") == 0 || has_cache_control(val))
                return 1;
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if (has_cache_control(json_object_array_get_idx(o, i)))
                return 1;
    }
    return 0;
}

/* Appends the text of CONTENT (a string, or the text blocks of an array) to
 * OUT (may be NULL) and adds its words to *WORDS. *TOOL_RESULT (may be NULL)
 * is set when the array holds a tool_result block. */
static void content_text(json_object *content, sim_buf *out, size_t *words, int *tool_result) {
    if (!content)
        return;
    if (json_object_is_type(content, json_type_string)) {
        const char *s = json_object_get_string(content);
        size_t n = (size_t)json_object_get_string_len(content);
        if (out)
            sim_buf_append(out, s, n);
        *words += sim_count_words(s, n);
    } else if (json_object_is_type(content, json_type_array)) {
        size_t n = json_object_array_length(content);
        for (size_t i = 0; i < n; i++) {
            json_object *block = json_object_array_get_idx(content, i);
            const char *type = get_str(block, "type");
            if (!type)
                continue;
            if (strcmp(type, "text") == 0) {
                json_object *text = get(block, "text");
                if (text && json_object_is_type(text, json_type_string))
                    content_text(text, out, words, NULL);
            } else if (strcmp(type, "tool_result") == 0) {
                if (tool_result)
                    *tool_result = 1;
                content_text(get(block, "content"), NULL, words, NULL);
            }
        }
    }
}

/* ---- messages ---- */

typedef struct msg_answer {
    char id[40];
    char tool_id[40];
    const char *model;
    char *text;      /* the echo, or NULL for a tool call */
    char *tool_name; /* the tool_use block's name */
    char *input;     /* its JSON-encoded input */
    const char *stop_reason;
    char *stop_sequence; /* the matched stop sequence, or NULL */
    size_t input_tokens, output_tokens, cache_read;
} msg_answer;

static void answer_free(msg_answer *a) {
    free(a->text);
    free(a->tool_name);
    free(a->input);
    free(a->stop_sequence);
}

static json_object *usage_obj(const msg_answer *a, size_t output_tokens) {
    json_object *u = json_object_new_object();
    json_object_object_add(u, "input_tokens", json_object_new_int64((int64_t)a->input_tokens));
    json_object_object_add(u, "cache_creation_input_tokens", json_object_new_int64(0));
    json_object_object_add(u, "cache_read_input_tokens",
                           json_object_new_int64((int64_t)a->cache_read));
    json_object_object_add(u, "output_tokens", json_object_new_int64((int64_t)output_tokens));
    return u;
}

/* The message object; CONTENT (taken) and the stop fields as given. */
static json_object *message_obj(const msg_answer *a, json_object *content, const char *stop_reason,
                                const char *stop_sequence, size_t output_tokens) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(a->id));
    json_object_object_add(o, "type", json_object_new_string("message"));
    json_object_object_add(o, "role", json_object_new_string("assistant"));
    json_object_object_add(o, "model", json_object_new_string(a->model));
    json_object_object_add(o, "content", content);
    json_object_object_add(o, "stop_reason",
                           stop_reason ? json_object_new_string(stop_reason) : NULL);
    json_object_object_add(o, "stop_sequence",
                           stop_sequence ? json_object_new_string(stop_sequence) : NULL);
    json_object_object_add(o, "usage", usage_obj(a, output_tokens));
    return o;
}

/* The text block, or the tool_use block with INPUT; takes INPUT (may be NULL). */
static json_object *block_obj(const msg_answer *a, const char *text, json_object *input) {
    json_object *b = json_object_new_object();
    if (a->text) {
        json_object_object_add(b, "type", json_object_new_string("text"));
        json_object_object_add(b, "text", json_object_new_string(text));
        json_object_put(input);
    } else {
        json_object_object_add(b, "type", json_object_new_string("tool_use"));
        json_object_object_add(b, "id", json_object_new_string(a->tool_id));
        json_object_object_add(b, "name", json_object_new_string(a->tool_name));
        json_object_object_add(b, "input", input);
    }
    return b;
}

/* "event: NAME\ndata: JSON\n\n"; BROKEN truncates the JSON. Takes OBJ. */
static void add_event(sim_response *res, const char *name, json_object *obj, int broken) {
    size_t n;
    char *s = sim_json_dump(obj, &n);
    sim_buf ev = {0};
    sim_buf_printf(&ev, "event: %s\ndata: ", name);
    sim_buf_append(&ev, s, broken ? n / 2 : n);
    sim_buf_puts(&ev, "\n\n");
    sim_res_event(res, ev.data, ev.len);
    sim_buf_free(&ev);
    free(s);
    json_object_put(obj);
}

static json_object *typed(const char *type) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    return o;
}

/* Pieces that each start at a word (leading whitespace kept with the word
 * that follows), so that they concatenate back to S. */
static size_t next_word_end(const char *s, size_t len, size_t start) {
    size_t i = start;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    while (i < len && !isspace((unsigned char)s[i]))
        i++;
    size_t j = i;
    while (j < len && isspace((unsigned char)s[j]))
        j++;
    return j == len ? len : i;
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

static void messages_stream(const sim_request *req, sim_response *res, const msg_answer *a) {
    const sim_fault *f = &req->fault;
    sim_res_stream(res, 200, "text/event-stream; charset=utf-8");

    json_object *ev = typed("message_start");
    json_object_object_add(ev, "message", message_obj(a, json_object_new_array(), NULL, NULL, 1));
    add_event(res, "message_start", ev, f->malformed);

    ev = typed("content_block_start");
    json_object_object_add(ev, "index", json_object_new_int(0));
    json_object_object_add(ev, "content_block", block_obj(a, "", json_object_new_object()));
    add_event(res, "content_block_start", ev, 0);

    add_event(res, "ping", typed("ping"), 0);

    const char *text = a->text ? a->text : a->input;
    size_t len = strlen(text), start = 0;
    while (start < len) {
        size_t end =
            a->text ? next_word_end(text, len, start) : next_fragment_end(text, len, start);
        char *piece = sim_xstrndup(text + start, end - start);
        json_object *delta = typed(a->text ? "text_delta" : "input_json_delta");
        json_object_object_add(delta, a->text ? "text" : "partial_json",
                               json_object_new_string(piece));
        free(piece);
        ev = typed("content_block_delta");
        json_object_object_add(ev, "index", json_object_new_int(0));
        json_object_object_add(ev, "delta", delta);
        add_event(res, "content_block_delta", ev, 0);
        if (f->error_event) { /* after the first delta */
            static const char err[] =
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                "\"message\":\"simulated mid-stream failure\"}}\n\n";
            sim_res_event(res, err, sizeof(err) - 1);
            res->abort_after_events = 1;
            return;
        }
        start = end;
    }

    ev = typed("content_block_stop");
    json_object_object_add(ev, "index", json_object_new_int(0));
    add_event(res, "content_block_stop", ev, 0);

    ev = typed("message_delta");
    json_object *delta = json_object_new_object();
    json_object_object_add(delta, "stop_reason", json_object_new_string(a->stop_reason));
    json_object_object_add(delta, "stop_sequence",
                           a->stop_sequence ? json_object_new_string(a->stop_sequence) : NULL);
    json_object_object_add(ev, "delta", delta);
    json_object *u = json_object_new_object();
    json_object_object_add(u, "output_tokens", json_object_new_int64((int64_t)a->output_tokens));
    json_object_object_add(ev, "usage", u);
    add_event(res, "message_delta", ev, 0);

    if (!f->drop_done)
        add_event(res, "message_stop", typed("message_stop"), 0);
}

/* Checks `system`: a string or an array of text blocks; counts its words. */
static int check_system(json_object *sys, sim_response *res, size_t *words) {
    if (!sys || json_object_is_type(sys, json_type_null))
        return 1;
    if (json_object_is_type(sys, json_type_string)) {
        content_text(sys, NULL, words, NULL);
        return 1;
    }
    if (json_object_is_type(sys, json_type_array)) {
        size_t n = json_object_array_length(sys);
        for (size_t i = 0; i < n; i++) {
            json_object *b = json_object_array_get_idx(sys, i);
            const char *type = get_str(b, "type");
            if (!type || strcmp(type, "text") != 0 || !get_str(b, "text")) {
                char msg[96];
                snprintf(msg, sizeof(msg), "system.%zu: Input should be a valid text block", i);
                an_invalid(res, msg);
                return 0;
            }
        }
        content_text(sys, NULL, words, NULL);
        return 1;
    }
    an_invalid(res, "system: Input should be a valid string or a list of text blocks");
    return 0;
}

/* Truncates A->text at the earliest stop sequence, if any occurs in it. */
static int apply_stop_sequences(json_object *stops, msg_answer *a, sim_response *res) {
    if (!stops || json_object_is_type(stops, json_type_null))
        return 1;
    if (!json_object_is_type(stops, json_type_array)) {
        an_invalid(res, "stop_sequences: Input should be a valid list");
        return 0;
    }
    size_t n = json_object_array_length(stops);
    const char *best = NULL, *best_seq = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(stops, i);
        if (!s || !json_object_is_type(s, json_type_string)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "stop_sequences.%zu: Input should be a valid string", i);
            an_invalid(res, msg);
            return 0;
        }
        const char *seq = json_object_get_string(s);
        if (!*seq || !a->text)
            continue;
        const char *hit = strstr(a->text, seq);
        if (hit && (!best || hit < best)) {
            best = hit;
            best_seq = seq;
        }
    }
    if (best) {
        a->text[best - a->text] = '\0';
        a->stop_sequence = sim_xstrdup(best_seq);
        a->stop_reason = "stop_sequence";
    }
    return 1;
}

static void messages_body(const sim_request *req, sim_response *res);

static void messages(const sim_request *req, sim_response *res) {
    if (!version_ok(req, res))
        return;
    messages_body(req, res);
}

/* Claude on Vertex AI: POST /v1/projects/P/locations/L/publishers/anthropic/
 * models/M:rawPredict (or :streamRawPredict) with a bearer token; the model
 * comes from the path and the version from the body's anthropic_version
 * ("vertex-2023-10-16"); a "model" in the body is refused. */
static void vertex_raw_predict(const sim_request *req, sim_response *res) {
    if (!sim_vertex_token_ok(req)) {
        an_error(res, 401, "Request had invalid authentication credentials.");
        return;
    }
    json_object *body = req->json;
    if (!body || !json_object_is_type(body, json_type_object)) {
        an_invalid(res, "There was an issue with your request body: it is not valid JSON");
        return;
    }
    const char *version = get_str(body, "anthropic_version");
    if (!version || strcmp(version, "vertex-2023-10-16") != 0) {
        an_invalid(res, "anthropic_version: must be \"vertex-2023-10-16\"");
        return;
    }
    if (get(body, "model")) {
        an_invalid(res, "model: Extra inputs are not permitted");
        return;
    }
    const char *m = strstr(req->path, "/models/");
    const char *colon = m ? strrchr(m, ':') : NULL;
    if (!m || !colon || colon <= m + 8) {
        an_error(res, 404, "model not found");
        return;
    }
    json_object_object_add(body, "model",
                           json_object_new_string_len(m + 8, (int)(colon - (m + 8))));
    messages_body(req, res);
}

static void messages_body(const sim_request *req, sim_response *res) {
    json_object *body = req->json;
    if (!body || !json_object_is_type(body, json_type_object)) {
        an_invalid(res, "There was an issue with your request body: it is not valid JSON");
        return;
    }
    const char *model = get_str(body, "model");
    if (!model) {
        an_invalid(res, get(body, "model") ? "model: Input should be a valid string"
                                           : "model: Field required");
        return;
    }
    json_object *mt = get(body, "max_tokens");
    if (!mt) {
        an_invalid(res, "max_tokens: Field required");
        return;
    }
    if (!json_object_is_type(mt, json_type_int) || json_object_get_int64(mt) < 1) {
        an_invalid(res, "max_tokens: Input should be an integer greater than or equal to 1");
        return;
    }
    json_object *msgs = get(body, "messages");
    if (!msgs) {
        an_invalid(res, "messages: Field required");
        return;
    }
    if (!json_object_is_type(msgs, json_type_array)) {
        an_invalid(res, "messages: Input should be a valid list");
        return;
    }
    size_t nmsg = json_object_array_length(msgs);
    if (nmsg == 0) {
        an_invalid(res, "messages: at least one message is required");
        return;
    }

    msg_answer a;
    memset(&a, 0, sizeof(a));
    if (!check_system(get(body, "system"), res, &a.input_tokens))
        return;
    json_object *last_user = NULL;
    for (size_t i = 0; i < nmsg; i++) {
        char msg[160];
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = get_str(m, "role");
        if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            snprintf(msg, sizeof(msg), "messages.%zu.role: Input should be 'user' or 'assistant'",
                     i);
            an_invalid(res, msg);
            return;
        }
        int is_user = strcmp(role, "user") == 0;
        if (i == 0 && !is_user) {
            an_invalid(res, "messages: first message must use the \"user\" role");
            return;
        }
        if (i > 0 && is_user == (strcmp(get_str(json_object_array_get_idx(msgs, i - 1), "role"),
                                        "user") == 0)) {
            snprintf(msg, sizeof(msg),
                     "messages: roles must alternate between \"user\" and \"assistant\", but "
                     "found multiple \"%s\" roles in a row",
                     role);
            an_invalid(res, msg);
            return;
        }
        json_object *content = get(m, "content");
        if (!content || (!json_object_is_type(content, json_type_string) &&
                         !json_object_is_type(content, json_type_array))) {
            snprintf(msg, sizeof(msg), "messages.%zu.content: %s", i,
                     content ? "Input should be a valid string or list" : "Field required");
            an_invalid(res, msg);
            return;
        }
        content_text(content, NULL, &a.input_tokens, NULL);
        if (is_user)
            last_user = m;
    }

    sim_buf user_text = {0};
    size_t ignored = 0;
    int tool_result = 0;
    content_text(get(last_user, "content"), &user_text, &ignored, &tool_result);

    a.model = model;
    ++msg_seq;
    snprintf(a.id, sizeof(a.id), "msg_sim_%lu", msg_seq);
    snprintf(a.tool_id, sizeof(a.tool_id), "toolu_sim_%lu", msg_seq);
    if (has_cache_control(body))
        a.cache_read = a.input_tokens / 2;

    const char *tool_name = NULL;
    json_object *tools = get(body, "tools");
    if (tools && json_object_is_type(tools, json_type_array) &&
        json_object_array_length(tools) > 0 && !tool_result) {
        tool_name = get_str(json_object_array_get_idx(tools, 0), "name");
        if (!tool_name) {
            sim_buf_free(&user_text);
            an_invalid(res, "tools.0.name: Field required");
            return;
        }
    }
    if (tool_name) {
        json_object *in = json_object_new_object();
        json_object_object_add(
            in, "text",
            json_object_new_string_len(user_text.data ? user_text.data : "", (int)user_text.len));
        a.input = sim_json_dump(in, NULL);
        json_object_put(in);
        a.tool_name = sim_xstrdup(tool_name);
        a.stop_reason = "tool_use";
    } else {
        sim_buf c = {0};
        sim_buf_puts(&c, "echo: ");
        if (user_text.len)
            sim_buf_append(&c, user_text.data, user_text.len);
        a.text = sim_buf_take(&c, NULL);
        a.stop_reason = "end_turn";
    }
    sim_buf_free(&user_text);
    if (!apply_stop_sequences(get(body, "stop_sequences"), &a, res)) {
        answer_free(&a);
        return;
    }
    a.output_tokens = a.text ? sim_count_words(a.text, strlen(a.text))
                             : sim_count_words(a.input, strlen(a.input));

    json_object *stream = get(body, "stream");
    if (stream && json_object_get_boolean(stream)) {
        messages_stream(req, res, &a);
        answer_free(&a);
        return;
    }

    json_object *content = json_object_new_array();
    json_object_array_add(content,
                          block_obj(&a, a.text, a.input ? json_tokener_parse(a.input) : NULL));
    json_object *o = message_obj(&a, content, a.stop_reason, a.stop_sequence, a.output_tokens);
    an_json(req, res, o);
    json_object_put(o);
    answer_free(&a);
}

/* ---- models ---- */

static const struct {
    const char *id, *display_name, *created_at;
} models_list[] = {
    {"claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"},
    {"claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"},
};

#define N_MODELS (sizeof(models_list) / sizeof(models_list[0]))

static json_object *model_obj(size_t i) {
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("model"));
    json_object_object_add(m, "id", json_object_new_string(models_list[i].id));
    json_object_object_add(m, "display_name", json_object_new_string(models_list[i].display_name));
    json_object_object_add(m, "created_at", json_object_new_string(models_list[i].created_at));
    return m;
}

static void models(const sim_request *req, sim_response *res) {
    if (!version_ok(req, res))
        return;
    json_object *o = json_object_new_object();
    json_object *data = json_object_new_array();
    for (size_t i = 0; i < N_MODELS; i++)
        json_object_array_add(data, model_obj(i));
    json_object_object_add(o, "data", data);
    json_object_object_add(o, "has_more", json_object_new_boolean(0));
    json_object_object_add(o, "first_id", json_object_new_string(models_list[0].id));
    json_object_object_add(o, "last_id", json_object_new_string(models_list[N_MODELS - 1].id));
    an_json(req, res, o);
    json_object_put(o);
}

static void model_get(const sim_request *req, sim_response *res) {
    if (!version_ok(req, res))
        return;
    const char *id = req->path + strlen(AN_PREFIX "models/");
    for (size_t i = 0; i < N_MODELS; i++) {
        if (strcmp(models_list[i].id, id) == 0) {
            json_object *m = model_obj(i);
            an_json(req, res, m);
            json_object_put(m);
            return;
        }
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "model: %.200s", id);
    an_error_typed(res, 404, "not_found_error", msg);
}

static const sim_route anthropic_routes[] = {
    {"POST", AN_PREFIX "messages", messages},
    {"GET", AN_PREFIX "models", models},
    {"GET", AN_PREFIX "models/*", model_get},
};

static int vx_an_authorized(const sim_request *req, const char *api_key) {
    (void)api_key; /* Vertex AI takes the --bearer-token, not the API key */
    return sim_vertex_token_ok(req);
}

static const sim_route vertex_anthropic_routes[] = {
    {"POST", "/v1*/projects/*/locations/*/publishers/anthropic/models/*:rawPredict",
     vertex_raw_predict},
    {"POST", "/v1*/projects/*/locations/*/publishers/anthropic/models/*:streamRawPredict",
     vertex_raw_predict},
};

static const sim_provider vertex_anthropic_provider = {
    .name = "vertex-anthropic",
    .prefix = NULL, /* unknown /v1/projects/ paths get Vertex's own (Google) 404 */
    .routes = vertex_anthropic_routes,
    .nroutes = sizeof(vertex_anthropic_routes) / sizeof(vertex_anthropic_routes[0]),
    .authorized = vx_an_authorized,
    .error = an_error,
};

static const sim_provider anthropic_provider = {
    .name = "anthropic",
    .prefix = "/anthropic/",
    .routes = anthropic_routes,
    .nroutes = sizeof(anthropic_routes) / sizeof(anthropic_routes[0]),
    .authorized = an_authorized,
    .error = an_error,
};

void sim_anthropic_register(void);

void sim_anthropic_register(void) {
    sim_router_register(&anthropic_provider);
    sim_router_register(&vertex_anthropic_provider);
}
