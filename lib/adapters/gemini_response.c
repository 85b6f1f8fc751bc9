/* SPDX-License-Identifier: Apache-2.0 */
/* Responses: candidates[i] → choices[i]; text parts joined into content;
 * parts with "thought": true → reasoning_content; functionCall parts →
 * tool_calls (id: the part's own id, else "call_N", arguments the
 * serialized args); finishReason STOP → "stop", MAX_TOKENS → "length",
 * SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY →
 * "content_filter", any other (or STOP) with a functionCall → "tool_calls";
 * a prompt blocked by promptFeedback.blockReason (no candidates) answers
 * one choice with empty content and finish_reason "content_filter".
 * usageMetadata: prompt_tokens = promptTokenCount + toolUsePromptTokenCount,
 * completion_tokens = candidatesTokenCount + thoughtsTokenCount,
 * prompt_tokens_details.cached_tokens = cachedContentTokenCount,
 * completion_tokens_details.reasoning_tokens = thoughtsTokenCount.
 * Thought signatures are not kept across turns.
 *
 * Errors: {"error":{"code","message","status"}} (also inside a one-element
 * array) → status from the HTTP code (400 with reason API_KEY_INVALID →
 * AIGW_EAUTH), message "backend "NAME": HTTP N: MESSAGE", raw body kept. */
#include "adapters/gemini_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/sse.h"

/* ---- responses ---- */

void aigw__gemini_read_usage(json_object *um, aigw__usage *u) {
    if (!um || !json_object_is_type(um, json_type_object))
        return;
    long long prompt = aigw__json_get_ll(um, "promptTokenCount"),
              tool = aigw__json_get_ll(um, "toolUsePromptTokenCount");
    long long cand = aigw__json_get_ll(um, "candidatesTokenCount"),
              thoughts = aigw__json_get_ll(um, "thoughtsTokenCount");
    long long cached = aigw__json_get_ll(um, "cachedContentTokenCount"),
              total = aigw__json_get_ll(um, "totalTokenCount");
    u->input_tokens = aigw__tokens_add(prompt > 0 ? prompt : 0, tool > 0 ? tool : 0);
    u->output_tokens = aigw__tokens_add(cand > 0 ? cand : 0, thoughts > 0 ? thoughts : 0);
    u->cached_input_tokens = cached > 0 ? cached : 0;
    u->reasoning_tokens = thoughts > 0 ? thoughts : 0;
    u->total_tokens = total >= 0 ? total : aigw__tokens_add(u->input_tokens, u->output_tokens);
}

const char *aigw__gemini_finish_reason(const char *fr, int has_tools) {
    if (!fr)
        return NULL;
    if (strcmp(fr, "MAX_TOKENS") == 0)
        return "length";
    static const char *const filtered[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"};
    for (size_t i = 0; i < sizeof filtered / sizeof filtered[0]; i++)
        if (strcmp(fr, filtered[i]) == 0)
            return "content_filter";
    return has_tools ? "tool_calls" : "stop";
}

const char *aigw__gemini_bufstr(const aigw__buf *b) {
    return b->data ? b->data : "";
}

void aigw__gemini_cand_view_free(cand_view *v) {
    aigw__buf_free(&v->text);
    aigw__buf_free(&v->thought);
    json_object_put(v->tool_calls);
}

/* Reads `cand`; tool calls are numbered from *ntools (advanced), with an
 * "index" member when `stream`. -1 on allocation failure. */
int aigw__gemini_read_candidate(json_object *cand, int *ntools, int stream, cand_view *v) {
    memset(v, 0, sizeof *v);
    if (!(v->tool_calls = json_object_new_array()))
        return -1;
    v->gemini_fr = aigw__json_get_string(cand, "finishReason");
    json_object *parts = aigw__json_get(aigw__json_get(cand, "content"), "parts");
    if (!is_array(parts))
        return 0;
    for (size_t i = 0; i < json_object_array_length(parts); i++) {
        json_object *p = json_object_array_get_idx(parts, i),
                    *fc = aigw__json_get(p, "functionCall");
        if (fc) {
            const char *name = aigw__json_get_string(fc, "name");
            const char *fid = aigw__json_get_string(fc, "id");
            json_object *args = aigw__json_get(fc, "args");
            char idbuf[32];
            snprintf(idbuf, sizeof idbuf, "call_%d", *ntools);
            json_object *tc = json_object_new_object(), *fn = json_object_new_object();
            const char *argtext =
                args ? json_object_to_json_string_ext(args, AIGW__JSON_FLAGS) : "{}";
            if (!tc || !fn || !argtext ||
                (stream && aigw__json_put(tc, "index", json_object_new_int(*ntools))) ||
                aigw__json_put(tc, "id", json_object_new_string(fid ? fid : idbuf)) ||
                aigw__json_put(tc, "type", json_object_new_string("function")) ||
                aigw__json_put(fn, "name", json_object_new_string(name ? name : "")) ||
                aigw__json_put(fn, "arguments", json_object_new_string(argtext))) {
                json_object_put(tc);
                json_object_put(fn);
                return -1;
            }
            if (aigw__json_put(tc, "function", fn)) {
                json_object_put(tc);
                return -1;
            }
            if (aigw__json_push(v->tool_calls, tc))
                return -1;
            ++*ntools;
            continue;
        }
        const char *text = aigw__json_get_string(p, "text");
        if (!text)
            continue; /* inlineData, executableCode, ...: dropped */
        json_object *th = aigw__json_get(p, "thought");
        int thought =
            th && json_object_is_type(th, json_type_boolean) && json_object_get_boolean(th);
        if (aigw__buf_puts(thought ? &v->thought : &v->text, text))
            return -1;
        if (thought)
            v->has_thought = 1;
        else
            v->has_text = 1;
    }
    return 0;
}

static json_object *make_choice(int index, json_object *message, const char *fr) {
    json_object *ch = json_object_new_object();
    if (!ch || aigw__json_put(ch, "index", json_object_new_int(index))) {
        json_object_put(ch);
        json_object_put(message);
        return NULL;
    }
    if (aigw__json_put(ch, "message", message) ||
        json_object_object_add(ch, "finish_reason", fr ? json_object_new_string(fr) : NULL) ||
        json_object_object_add(ch, "logprobs", NULL)) {
        json_object_put(ch);
        return NULL;
    }
    return ch;
}

static json_object *candidate_choice(json_object *cand, int i, int *ntools) {
    cand_view v;
    json_object *msg = NULL, *iv = aigw__json_get(cand, "index");
    int index = iv && json_object_is_type(iv, json_type_int) ? json_object_get_int(iv) : i;
    if (aigw__gemini_read_candidate(cand, ntools, 0, &v) || !(msg = json_object_new_object()))
        goto fail;
    int ntc = (int)json_object_array_length(v.tool_calls);
    if (aigw__json_put(msg, "role", json_object_new_string("assistant")) ||
        json_object_object_add(
            msg, "content",
            v.has_text || !ntc ? json_object_new_string(aigw__gemini_bufstr(&v.text)) : NULL) ||
        (v.has_thought && aigw__json_put(msg, "reasoning_content",
                                         json_object_new_string(aigw__gemini_bufstr(&v.thought)))))
        goto fail;
    if (ntc) {
        if (aigw__json_put(msg, "tool_calls", v.tool_calls)) {
            v.tool_calls = NULL;
            goto fail;
        }
        v.tool_calls = NULL;
    }
    json_object *ch = make_choice(index, msg, aigw__gemini_finish_reason(v.gemini_fr, ntc > 0));
    aigw__gemini_cand_view_free(&v);
    return ch;
fail:
    json_object_put(msg);
    aigw__gemini_cand_view_free(&v);
    return NULL;
}

static aigw_status parse_chat(aigw__call *call, json_object *root, const char *body, size_t len,
                              aigw__buf *out, aigw_error **err) {
    json_object *cands = aigw__json_get(root, "candidates");
    const char *block =
        aigw__json_get_string(aigw__json_get(root, "promptFeedback"), "blockReason");
    size_t n = is_array(cands) ? json_object_array_length(cands) : 0;
    if (n == 0 && !block)
        return aigw__bad_response(call, body, len, "response has no candidates", err);
    json_object *res = json_object_new_object(), *choices = json_object_new_array();
    int fail = !res || !choices, ntools = 0;
    for (size_t i = 0; !fail && i < n; i++)
        fail = aigw__json_push(
            choices, candidate_choice(json_object_array_get_idx(cands, i), (int)i, &ntools));
    if (!fail && n == 0) {
        json_object *msg = json_object_new_object();
        fail = !msg || aigw__json_put(msg, "role", json_object_new_string("assistant")) ||
               aigw__json_put(msg, "content", json_object_new_string(""));
        if (fail)
            json_object_put(msg);
        else
            fail = aigw__json_push(choices, make_choice(0, msg, "content_filter"));
    }
    aigw__gemini_read_usage(aigw__json_get(root, "usageMetadata"), &call->usage);
    const char *id = aigw__json_get_string(root, "responseId");
    const char *model = aigw__json_get_string(root, "modelVersion");
    if (!fail) {
        fail = aigw__json_put(res, "id", json_object_new_string(id ? id : "")) ||
               aigw__json_put(res, "object", json_object_new_string("chat.completion")) ||
               aigw__json_put(res, "created", json_object_new_int64((int64_t)time(NULL))) ||
               aigw__json_put(res, "model", json_object_new_string(model ? model : call->model)) ||
               aigw__json_put(res, "choices", choices);
        choices = NULL;
        fail = fail ||
               aigw__json_put(res, "usage",
                              aigw__openai_usage_json(&call->usage, AIGW__USAGE_REPORTED)) ||
               append_json(out, res);
    }
    json_object_put(choices);
    json_object_put(res);
    return fail ? oom(err) : AIGW_OK;
}

/* An embedding as an array of numbers or base64 float32 little-endian. */
static json_object *embedding_value(json_object *values, int base64) {
    if (!base64)
        return json_object_get(values);
    size_t n = json_object_array_length(values);
    unsigned char *raw = aigw__malloc(n * 4 + 1);
    char *text = aigw__malloc((n * 4 + 2) / 3 * 4 + 1);
    json_object *s = NULL;
    if (raw && text) {
        for (size_t i = 0; i < n; i++) {
            float f = (float)json_object_get_double(json_object_array_get_idx(values, i));
            uint32_t bits;
            memcpy(&bits, &f, 4);
            for (int b = 0; b < 4; b++)
                raw[i * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b));
        }
        EVP_EncodeBlock((unsigned char *)text, raw, (int)(n * 4));
        s = json_object_new_string(text);
    }
    aigw__free(raw);
    aigw__free(text);
    return s;
}

static aigw_status parse_embed(aigw__call *call, int vertex, json_object *root, const char *body,
                               size_t len, aigw__buf *out, aigw_error **err) {
    json_object *list = aigw__json_get(root, vertex ? "predictions" : "embeddings");
    if (!is_array(list))
        return aigw__bad_response(call, body, len,
                                  vertex ? "response has no \"predictions\" array"
                                         : "response has no \"embeddings\" array",
                                  err);
    const char *format = aigw__json_get_string(call->request, "encoding_format");
    int base64 = format && strcmp(format, "base64") == 0;
    long long tokens = 0;
    json_object *res = json_object_new_object(), *data = json_object_new_array();
    int fail = !res || !data;
    for (size_t i = 0; !fail && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i);
        if (vertex) {
            e = aigw__json_get(e, "embeddings");
            long long t = aigw__json_get_ll(aigw__json_get(e, "statistics"), "token_count");
            tokens += t > 0 ? t : 0;
        }
        json_object *values = aigw__json_get(e, "values");
        int ok = is_array(values);
        for (size_t k = 0; ok && k < json_object_array_length(values); k++)
            ok = aigw__json_is_number(json_object_array_get_idx(values, k));
        if (!ok) {
            json_object_put(res);
            json_object_put(data);
            return aigw__bad_response(call, body, len, "embedding without numeric \"values\"", err);
        }
        json_object *item = json_object_new_object();
        fail = !item || aigw__json_put(item, "object", json_object_new_string("embedding")) ||
               aigw__json_put(item, "index", json_object_new_int64((int64_t)i)) ||
               aigw__json_put(item, "embedding", embedding_value(values, base64));
        if (fail)
            json_object_put(item);
        else
            fail = aigw__json_push(data, item);
    }
    if (vertex) {
        call->usage.input_tokens = tokens;
        call->usage.total_tokens = tokens;
    }
    if (!fail) {
        json_object *usage = json_object_new_object();
        fail = aigw__json_put(res, "object", json_object_new_string("list")) ||
               aigw__json_put(res, "data", data);
        data = NULL;
        fail = fail || !usage ||
               aigw__json_put(usage, "prompt_tokens", json_object_new_int64(tokens)) ||
               aigw__json_put(usage, "total_tokens", json_object_new_int64(tokens));
        if (fail)
            json_object_put(usage);
        else
            fail = aigw__json_put(res, "model", json_object_new_string(call->model)) ||
                   aigw__json_put(res, "usage", usage) || append_json(out, res);
    }
    json_object_put(data);
    json_object_put(res);
    return fail ? oom(err) : AIGW_OK;
}

static aigw_status parse_models(aigw__call *call, json_object *root, const char *body, size_t len,
                                aigw__buf *out, aigw_error **err) {
    json_object *models = aigw__json_get(root, "models");
    if (!is_array(models))
        return aigw__bad_response(call, body, len, "model list has no \"models\" array", err);
    json_object *res = json_object_new_object(), *data = json_object_new_array();
    int fail = !res || !data;
    aigw__buf id = AIGW__BUF_INIT;
    for (size_t i = 0; !fail && i < json_object_array_length(models); i++) {
        const char *name = aigw__json_get_string(json_object_array_get_idx(models, i), "name");
        if (!name)
            continue;
        if (strncmp(name, "models/", 7) == 0)
            name += 7;
        aigw__buf_clear(&id);
        json_object *m = json_object_new_object();
        fail = !m || aigw__buf_printf(&id, "%s/%s", call->backend->name, name) ||
               aigw__json_put(m, "id", json_object_new_string(id.data)) ||
               aigw__json_put(m, "object", json_object_new_string("model")) ||
               aigw__json_put(m, "created", json_object_new_int(0)) ||
               aigw__json_put(m, "owned_by", json_object_new_string("google"));
        if (fail)
            json_object_put(m);
        else
            fail = aigw__json_push(data, m);
    }
    aigw__buf_free(&id);
    if (!fail) {
        fail = aigw__json_put(res, "object", json_object_new_string("list")) ||
               aigw__json_put(res, "data", data);
        data = NULL;
        fail = fail || append_json(out, res);
    }
    json_object_put(data);
    json_object_put(res);
    return fail ? oom(err) : AIGW_OK;
}

static aigw_status error_common(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err);

static aigw_status parse_common(aigw__call *call, int vertex, const char *body, size_t len,
                                aigw__buf *out, aigw_error **err) {
    json_object *root = NULL;
    aigw_error *parse_err = NULL;
    aigw_status st =
        aigw__json_parse(body, len, "upstream response", AIGW_EBADRESPONSE, &root, &parse_err);
    if (st) {
        st = aigw__bad_response(call, body, len, aigw_error_message(parse_err), err);
        aigw_error_free(parse_err);
        return st;
    }
    if (!json_object_is_type(root, json_type_object))
        st = aigw__bad_response(call, body, len, "response is not a JSON object", err);
    else if (aigw__json_get(root, "error"))
        st = error_common(call, 200, body, len, err);
    else if (call->op == AIGW__OP_CHAT)
        st = parse_chat(call, root, body, len, out, err);
    else if (call->op == AIGW__OP_EMBED)
        st = parse_embed(call, vertex, root, body, len, out, err);
    else if (call->op == AIGW__OP_MODELS)
        st = parse_models(call, root, body, len, out, err);
    else
        st = aigw__bad_response(call, body, len, "expected a stream", err);
    json_object_put(root);
    return st;
}

aigw_status aigw__gemini_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                               aigw_error **err) {
    return parse_common(call, 0, body, len, out, err);
}

aigw_status aigw__gemini_vertex_parse(aigw__call *call, const char *body, size_t len,
                                      aigw__buf *out, aigw_error **err) {
    return parse_common(call, 1, body, len, out, err);
}

/* ---- errors ---- */

/* Google's error object in root ({"error":{...}} or [{"error":{...}}]). */
static json_object *google_error(json_object *root) {
    if (is_array(root) && json_object_array_length(root) > 0)
        root = json_object_array_get_idx(root, 0);
    return aigw__json_get(root, "error");
}

static int api_key_invalid(json_object *e) {
    json_object *details = aigw__json_get(e, "details");
    for (size_t i = 0; is_array(details) && i < json_object_array_length(details); i++) {
        const char *reason = aigw__json_get_string(json_object_array_get_idx(details, i), "reason");
        if (reason && strcmp(reason, "API_KEY_INVALID") == 0)
            return 1;
    }
    return 0;
}

static aigw_status error_common(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err) {
    const char *name = call->backend->name;
    aigw_status st = http_status >= 200 && http_status <= 299 ? AIGW_EUPSTREAM
                                                              : aigw__status_from_http(http_status);
    json_object *root = NULL;
    aigw__json_parse(body, len, "error", AIGW_EBADRESPONSE, &root, NULL);
    json_object *e = google_error(root);
    const char *message = json_object_is_type(e, json_type_string)
                              ? json_object_get_string(e)
                              : aigw__json_get_string(e, "message");
    if (http_status == 400 && api_key_invalid(e))
        st = AIGW_EAUTH;
    char snippet[201];
    if (!message)
        message = aigw__body_snippet(body, len, snippet, sizeof snippet);
    aigw__error_set_upstream(err, st, name, (int)http_status, len ? body : NULL, len,
                             "backend \"%s\": HTTP %ld: %s", name, http_status, message);
    json_object_put(root);
    return st;
}

aigw_status aigw__gemini_error(aigw__call *call, long http_status, const char *body, size_t len,
                               aigw_error **err) {
    return error_common(call, http_status, body, len, err);
}
