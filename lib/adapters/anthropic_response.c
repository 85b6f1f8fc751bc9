/* SPDX-License-Identifier: Apache-2.0 */
/* Responses and streams come back as OpenAI chat.completion(.chunk)s:
 * text blocks joined into message.content (null when none), tool_use
 * blocks as tool_calls (arguments = the serialized input), thinking blocks
 * as message.reasoning_content (delta.reasoning_content in streams, as
 * DeepSeek and vLLM do); stop reasons end_turn/stop_sequence/pause_turn →
 * "stop", max_tokens → "length", tool_use → "tool_calls", refusal →
 * "content_filter"; prompt_tokens counts input, cache-read and
 * cache-creation tokens, prompt_tokens_details.cached_tokens the cache
 * reads. */
#include "adapters/anthropic_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "adapters/openai_shape.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

/* ---- responses ---- */

const char *aigw__anthropic_finish_reason(const char *stop_reason) {
    if (!stop_reason)
        return NULL;
    if (strcmp(stop_reason, "max_tokens") == 0)
        return "length";
    if (strcmp(stop_reason, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop_reason, "refusal") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn, anything new */
}

/* Reads an Anthropic usage object into u (input side when `input`, output
 * side always). Fields it lacks are left alone. */
void aigw__anthropic_read_usage(json_object *usage, aigw__usage *u) {
    if (!usage || !json_object_is_type(usage, json_type_object))
        return;
    long long in = aigw__json_get_ll(usage, "input_tokens");
    long long cr = aigw__json_get_ll(usage, "cache_read_input_tokens");
    long long cc = aigw__json_get_ll(usage, "cache_creation_input_tokens");
    long long out = aigw__json_get_ll(usage, "output_tokens");
    if (in >= 0) {
        u->input_tokens = aigw__tokens_add(aigw__tokens_add(in, cr > 0 ? cr : 0), cc > 0 ? cc : 0);
        u->cached_input_tokens = cr > 0 ? cr : 0;
    }
    if (out >= 0)
        u->output_tokens = out;
    if (u->input_tokens >= 0 && u->output_tokens >= 0)
        u->total_tokens = aigw__tokens_add(u->input_tokens, u->output_tokens);
}

aigw_status aigw__anthropic_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                  aigw_error **err) {
    if (call->op != AIGW__OP_CHAT)
        return aigw__bad_response(call, body, len, "only chat responses are expected", err);
    json_object *root = NULL, *res = NULL;
    aigw_error *perr = NULL;
    aigw_status st =
        aigw__json_parse(body, len, "upstream response", AIGW_EBADRESPONSE, &root, &perr);
    if (st) {
        st = aigw__bad_response(call, body, len, aigw_error_message(perr), err);
        aigw_error_free(perr);
        return st;
    }
    const char *type = aigw__json_get_string(root, "type");
    json_object *content = aigw__json_get(root, "content");
    if (type && strcmp(type, "error") == 0) {
        st = aigw__openai_error(call->backend->name, 200, body, len, err);
        goto out;
    }
    if (!json_object_is_type(root, json_type_object) || !content ||
        !json_object_is_type(content, json_type_array)) {
        st = aigw__bad_response(call, body, len,
                                "response is not an Anthropic message (no content)", err);
        goto out;
    }
    aigw__buf text = AIGW__BUF_INIT, thinking = AIGW__BUF_INIT;
    int has_text = 0, has_thinking = 0;
    json_object *tool_calls = json_object_new_array();
    res = json_object_new_object();
    json_object *msg = json_object_new_object(), *choice = json_object_new_object(),
                *choices = json_object_new_array();
    int fail = !tool_calls || !res || !msg || !choice || !choices;
    for (size_t i = 0; !fail && !st && i < json_object_array_length(content); i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *bt = aigw__json_get_string(b, "type");
        if (!bt) {
            st = aigw__bad_response(call, body, len, "content block without a type", err);
        } else if (strcmp(bt, "text") == 0) {
            const char *t = aigw__json_get_string(b, "text");
            if (!t)
                st = aigw__bad_response(call, body, len, "text block without text", err);
            else if (aigw__buf_puts(&text, t))
                fail = 1;
            has_text = 1;
        } else if (strcmp(bt, "thinking") == 0) {
            const char *t = aigw__json_get_string(b, "thinking");
            if (t && aigw__buf_puts(&thinking, t))
                fail = 1;
            has_thinking = 1;
        } else if (strcmp(bt, "tool_use") == 0) {
            const char *id = aigw__json_get_string(b, "id");
            const char *name = aigw__json_get_string(b, "name");
            json_object *input = aigw__json_get(b, "input");
            if (!id || !name) {
                st = aigw__bad_response(call, body, len, "tool_use block without id or name", err);
                continue;
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
        } /* redacted_thinking and unknown blocks are dropped */
    }
    const char *id = aigw__json_get_string(root, "id");
    const char *model = aigw__json_get_string(root, "model");
    const char *fr = aigw__anthropic_finish_reason(aigw__json_get_string(root, "stop_reason"));
    if (!fail && !st) {
        aigw__anthropic_read_usage(aigw__json_get(root, "usage"), &call->usage);
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
        fail = fail || aigw__json_put(res, "id", json_object_new_string(id ? id : "")) ||
               aigw__json_put(res, "object", json_object_new_string("chat.completion")) ||
               aigw__json_put(res, "created", json_object_new_int64((int64_t)time(NULL))) ||
               aigw__json_put(res, "model", json_object_new_string(model ? model : call->model)) ||
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
    aigw__buf_free(&text);
    aigw__buf_free(&thinking);
out:
    json_object_put(res);
    json_object_put(root);
    return st;
}

/* Anthropic errors are {"type":"error","error":{"type":...,"message":...}},
 * which the OpenAI-shape reader handles ("error.message"); 529 overloaded
 * is a 5xx, so AIGW_EUPSTREAM. */
aigw_status aigw__anthropic_error(aigw__call *call, long http_status, const char *body, size_t len,
                                  aigw_error **err) {
    return aigw__openai_error(call->backend->name, http_status, body, len, err);
}
