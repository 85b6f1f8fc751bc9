/* SPDX-License-Identifier: Apache-2.0 */
/* The Anthropic schema: the Messages API (POST {base_url}/messages,
 * "anthropic-version: 2023-06-01", the key in "x-api-key").
 *
 * Requests are translated from OpenAI chat.completions:
 * - system and developer messages become the top-level "system" string
 *   (several joined with "\n\n"); user, assistant and tool messages become
 *   "messages", consecutive messages of the same Anthropic role merged into
 *   one message with several content blocks; tool messages become user
 *   "tool_result" blocks, assistant tool_calls "tool_use" blocks (arguments
 *   that are not JSON are AIGW_EBADREQUEST); image_url parts become image
 *   blocks (data: URLs as base64 sources, http(s) URLs as url sources).
 * - tools, tool_choice, stop (stop_sequences), temperature, top_p, user
 *   (metadata.user_id) and stream are translated; max_tokens is
 *   max_completion_tokens, else max_tokens, else AIGW__ANTHROPIC_DEFAULT_MAX_TOKENS
 *   (4096), because Anthropic requires it.
 * - "n" > 1 is AIGW_ENOTSUPPORTED (Anthropic answers one choice).
 * - Dropped, having no Anthropic equivalent: logprobs, top_logprobs,
 *   response_format, seed, presence_penalty, frequency_penalty, logit_bias,
 *   parallel_tool_calls, stream_options, modalities, audio, prediction,
 *   store, service_tier, reasoning_effort and any unknown field.
 * Embeddings and model listing are AIGW_ENOTSUPPORTED. */
#include "adapters/anthropic_internal.h"

#include <stdio.h>
#include <string.h>

#include "adapters/openai_shape.h"
#include "adapters/request_parts.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

#define AIGW__ANTHROPIC_DEFAULT_MAX_TOKENS 4096
#define ANTHROPIC_VERSION "2023-06-01"
/* Claude on Vertex AI names the API version in the body instead. */
#define VERTEX_ANTHROPIC_VERSION "vertex-2023-10-16"

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

/* ---- requests ---- */

typedef struct req_ctx {
    aigw__call *call;
    aigw_error **err;
    int vertex; /* Claude on Vertex AI: model in the URL, version in the body */
} req_ctx;

static aigw_status bad_request(req_ctx *c, const char *what) {
    return aigw__error_set(c->err, AIGW_EBADREQUEST, "backend \"%s\": request: %s",
                           c->call->backend->name, what);
}

static json_object *text_block(const char *text) {
    json_object *b = json_object_new_object();
    if (!b || aigw__json_put(b, "type", json_object_new_string("text")) ||
        aigw__json_put(b, "text", json_object_new_string(text))) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* An OpenAI image_url part as an Anthropic image block, into *out. */
static aigw_status image_block(req_ctx *c, json_object *part, json_object **out) {
    const char *url = aigw__image_part_url(part);
    if (!url)
        return bad_request(c, "image_url part without a url");
    json_object *block = json_object_new_object(), *src = json_object_new_object();
    int fail = !block || !src;
    if (!fail && strncmp(url, "data:", 5) == 0) {
        const char *media, *data;
        size_t mlen;
        if (aigw__data_url_base64(url, &media, &mlen, &data) || mlen == 0) {
            json_object_put(block);
            json_object_put(src);
            return bad_request(c, "image data: URL is not base64 with a media type");
        }
        fail = aigw__json_put(src, "type", json_object_new_string("base64")) ||
               aigw__json_put(src, "media_type", json_object_new_string_len(media, (int)mlen)) ||
               aigw__json_put(src, "data", json_object_new_string(data));
    } else if (!fail && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)) {
        fail = aigw__json_put(src, "type", json_object_new_string("url")) ||
               aigw__json_put(src, "url", json_object_new_string(url));
    } else if (!fail) {
        json_object_put(block);
        json_object_put(src);
        return bad_request(c, "image URL must be a data: or http(s) URL");
    }
    if (fail || aigw__json_put(block, "type", json_object_new_string("image"))) {
        json_object_put(block);
        json_object_put(src);
        return oom(c->err);
    }
    if (aigw__json_put(block, "source", src)) {
        json_object_put(block);
        return oom(c->err);
    }
    *out = block;
    return AIGW_OK;
}

/* User content (string or parts) as blocks appended to `blocks`. */
static aigw_status user_blocks(req_ctx *c, json_object *content, json_object *blocks) {
    if (!content)
        return AIGW_OK;
    if (json_object_is_type(content, json_type_string)) {
        const char *text = json_object_get_string(content);
        if (*text && aigw__json_push(blocks, text_block(text)))
            return oom(c->err);
        return AIGW_OK;
    }
    if (!json_object_is_type(content, json_type_array))
        return bad_request(c, "message content is not a string or an array");
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = aigw__json_get_string(part, "type");
        if (type && strcmp(type, "text") == 0) {
            const char *text = aigw__json_get_string(part, "text");
            if (!text)
                return bad_request(c, "text part without text");
            if (*text && aigw__json_push(blocks, text_block(text)))
                return oom(c->err);
        } else if (type && strcmp(type, "image_url") == 0) {
            json_object *block = NULL;
            aigw_status st = image_block(c, part, &block);
            if (st)
                return st;
            if (aigw__json_push(blocks, block))
                return oom(c->err);
        } else {
            return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                                   "backend \"%s\": content part type \"%s\" is not supported "
                                   "by the anthropic schema",
                                   c->call->backend->name, type ? type : "(none)");
        }
    }
    return AIGW_OK;
}

static aigw_status tool_use_blocks(req_ctx *c, json_object *calls, json_object *blocks) {
    if (!calls)
        return AIGW_OK;
    if (!json_object_is_type(calls, json_type_array))
        return bad_request(c, "tool_calls is not an array");
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *tc = json_object_array_get_idx(calls, i);
        json_object *fn = aigw__json_get(tc, "function");
        const char *id = aigw__json_get_string(tc, "id");
        const char *name = aigw__json_get_string(fn, "name");
        const char *args = aigw__json_get_string(fn, "arguments");
        if (!id || !name)
            return bad_request(c, "tool call without id or function name");
        json_object *input = NULL;
        if (aigw__tool_args_parse(args, 0, &input))
            return aigw__error_set(c->err, AIGW_EBADREQUEST,
                                   "backend \"%s\": request: tool call \"%s\" arguments are "
                                   "not valid JSON",
                                   c->call->backend->name, id);
        json_object *b = json_object_new_object();
        if (!b || aigw__json_put(b, "type", json_object_new_string("tool_use")) ||
            aigw__json_put(b, "id", json_object_new_string(id)) ||
            aigw__json_put(b, "name", json_object_new_string(name)) ||
            aigw__json_put(b, "input", input)) {
            json_object_put(b);
            return oom(c->err);
        }
        if (aigw__json_push(blocks, b))
            return oom(c->err);
    }
    return AIGW_OK;
}

static aigw_status tool_result_block(req_ctx *c, json_object *msg, json_object *blocks) {
    const char *id = aigw__json_get_string(msg, "tool_call_id");
    if (!id)
        return bad_request(c, "tool message without tool_call_id");
    aigw__buf text = AIGW__BUF_INIT;
    aigw_status st = aigw__content_text(c->call, c->err, aigw__json_get(msg, "content"), 0, &text);
    if (st) {
        aigw__buf_free(&text);
        return st;
    }
    json_object *b = json_object_new_object();
    if (!b || aigw__json_put(b, "type", json_object_new_string("tool_result")) ||
        aigw__json_put(b, "tool_use_id", json_object_new_string(id)) ||
        aigw__json_put(b, "content", json_object_new_string(text.data ? text.data : "")) ||
        aigw__json_push(blocks, b)) {
        json_object_put(b);
        st = oom(c->err);
    }
    aigw__buf_free(&text);
    return st;
}

/* Translates "messages" into out "system" and "messages". */
static aigw_status translate_messages(req_ctx *c, json_object *req, json_object *body) {
    json_object *msgs = aigw__json_get(req, "messages");
    if (!msgs || !json_object_is_type(msgs, json_type_array))
        return bad_request(c, "no \"messages\" array");
    json_object *out = json_object_new_array();
    if (aigw__json_put(body, "messages", out))
        return oom(c->err);
    aigw__buf system = AIGW__BUF_INIT;
    const char *last_role = NULL; /* Anthropic role of the last message in out */
    json_object *blocks = json_object_new_array();
    aigw_status st = blocks ? AIGW_OK : oom(c->err);
    for (size_t i = 0; !st && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = aigw__json_get_string(m, "role");
        if (!role) {
            st = bad_request(c, "message without a role");
            break;
        }
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            size_t before = system.len;
            if (system.len && aigw__buf_puts(&system, "\n\n")) {
                st = oom(c->err);
                break;
            }
            size_t mid = system.len;
            st = aigw__content_text(c->call, c->err, aigw__json_get(m, "content"), 0, &system);
            if (!st && system.len == mid)
                system.len = before; /* empty: no separator */
            if (system.data)
                system.data[system.len] = '\0';
            continue;
        }
        const char *arole = "user";
        json_object_array_del_idx(blocks, 0, json_object_array_length(blocks));
        if (strcmp(role, "user") == 0) {
            arole = "user";
            st = user_blocks(c, aigw__json_get(m, "content"), blocks);
        } else if (strcmp(role, "assistant") == 0) {
            arole = "assistant";
            st = user_blocks(c, aigw__json_get(m, "content"), blocks);
            if (!st)
                st = tool_use_blocks(c, aigw__json_get(m, "tool_calls"), blocks);
        } else if (strcmp(role, "tool") == 0) {
            arole = "user";
            st = tool_result_block(c, m, blocks);
        } else {
            st = aigw__error_set(c->err, AIGW_EBADREQUEST,
                                 "backend \"%s\": request: unknown message role \"%s\"",
                                 c->call->backend->name, role);
        }
        if (st || json_object_array_length(blocks) == 0)
            continue;
        json_object *target;
        if (last_role && strcmp(last_role, arole) == 0) {
            json_object *lastm = json_object_array_get_idx(out, json_object_array_length(out) - 1);
            target = aigw__json_get(lastm, "content");
        } else {
            json_object *nm = json_object_new_object();
            target = json_object_new_array();
            if (!nm || aigw__json_put(nm, "role", json_object_new_string(arole)) ||
                aigw__json_put(nm, "content", target) || aigw__json_push(out, nm)) {
                json_object_put(nm);
                st = oom(c->err);
                break;
            }
            last_role = arole;
        }
        for (size_t j = 0; j < json_object_array_length(blocks); j++)
            if (aigw__json_push(target, json_object_get(json_object_array_get_idx(blocks, j)))) {
                st = oom(c->err);
                break;
            }
    }
    json_object_put(blocks);
    if (!st && system.len && aigw__json_put(body, "system", json_object_new_string(system.data)))
        st = oom(c->err);
    aigw__buf_free(&system);
    return st;
}

static aigw_status translate_tools(req_ctx *c, json_object *req, json_object *body) {
    json_object *tools = aigw__json_get(req, "tools");
    if (tools && !json_object_is_type(tools, json_type_null)) {
        if (!json_object_is_type(tools, json_type_array))
            return bad_request(c, "\"tools\" is not an array");
        json_object *out = json_object_new_array();
        if (aigw__json_put(body, "tools", out))
            return oom(c->err);
        for (size_t i = 0; i < json_object_array_length(tools); i++) {
            json_object *t = json_object_array_get_idx(tools, i);
            const char *type = aigw__json_get_string(t, "type");
            json_object *fn = aigw__json_get(t, "function");
            const char *name = aigw__json_get_string(fn, "name");
            if (!type || strcmp(type, "function") != 0 || !name)
                return bad_request(c, "only function tools with a name are supported");
            const char *desc = aigw__json_get_string(fn, "description");
            json_object *params = aigw__json_get(fn, "parameters");
            json_object *schema = params ? json_object_get(params) : json_object_new_object();
            if (!params && schema &&
                aigw__json_put(schema, "type", json_object_new_string("object"))) {
                json_object_put(schema);
                return oom(c->err);
            }
            json_object *a = json_object_new_object();
            if (!a || aigw__json_put(a, "name", json_object_new_string(name)) ||
                (desc && aigw__json_put(a, "description", json_object_new_string(desc))) ||
                aigw__json_put(a, "input_schema", schema) || aigw__json_push(out, a)) {
                json_object_put(a);
                return oom(c->err);
            }
        }
    }
    json_object *tc = aigw__json_get(req, "tool_choice");
    if (!tc || json_object_is_type(tc, json_type_null))
        return AIGW_OK;
    json_object *choice = json_object_new_object();
    if (aigw__json_put(body, "tool_choice", choice))
        return oom(c->err);
    const char *type = NULL, *name = NULL;
    if (json_object_is_type(tc, json_type_string)) {
        const char *s = json_object_get_string(tc);
        type = strcmp(s, "auto") == 0       ? "auto"
               : strcmp(s, "none") == 0     ? "none"
               : strcmp(s, "required") == 0 ? "any"
                                            : NULL;
    } else if ((name = aigw__json_get_string(aigw__json_get(tc, "function"), "name")) != NULL) {
        type = "tool";
    }
    if (!type)
        return bad_request(c, "unknown \"tool_choice\"");
    if (aigw__json_put(choice, "type", json_object_new_string(type)) ||
        (name && aigw__json_put(choice, "name", json_object_new_string(name))))
        return oom(c->err);
    return AIGW_OK;
}

static aigw_status build_body(req_ctx *c, json_object *body) {
    json_object *req = c->call->request, *v;
    if (!req || !json_object_is_type(req, json_type_object))
        return bad_request(c, "not a JSON object");
    if ((v = aigw__json_get(req, "n")) && aigw__json_is_number(v) && json_object_get_int64(v) > 1)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": the anthropic schema answers one choice: "
                               "\"n\" > 1 is not supported",
                               c->call->backend->name);
    if (c->vertex ? aigw__json_put(body, "anthropic_version",
                                   json_object_new_string(VERTEX_ANTHROPIC_VERSION))
                  : aigw__json_put(body, "model", json_object_new_string(c->call->model)))
        return oom(c->err);
    aigw_status st = translate_messages(c, req, body);
    if (st)
        return st;
    long long max_tokens = AIGW__ANTHROPIC_DEFAULT_MAX_TOKENS;
    if (((v = aigw__json_get(req, "max_completion_tokens")) && aigw__json_is_number(v)) ||
        ((v = aigw__json_get(req, "max_tokens")) && aigw__json_is_number(v)))
        max_tokens = json_object_get_int64(v);
    if (aigw__json_put(body, "max_tokens", json_object_new_int64(max_tokens)))
        return oom(c->err);
    if ((v = aigw__json_get(req, "temperature")) && aigw__json_is_number(v) &&
        aigw__json_put(body, "temperature", json_object_get(v)))
        return oom(c->err);
    if ((v = aigw__json_get(req, "top_p")) && aigw__json_is_number(v) &&
        aigw__json_put(body, "top_p", json_object_get(v)))
        return oom(c->err);
    if ((v = aigw__json_get(req, "stop")) != NULL) {
        json_object *seqs = NULL;
        if (json_object_is_type(v, json_type_string)) {
            seqs = json_object_new_array();
            if (aigw__json_push(seqs, json_object_new_string(json_object_get_string(v)))) {
                json_object_put(seqs);
                return oom(c->err);
            }
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++)
                if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                    return bad_request(c, "\"stop\" array holds a non-string");
            seqs = json_object_get(v);
        } else if (!json_object_is_type(v, json_type_null)) {
            return bad_request(c, "\"stop\" is not a string or an array");
        }
        if (seqs && aigw__json_put(body, "stop_sequences", seqs))
            return oom(c->err);
    }
    const char *user = aigw__json_get_string(req, "user");
    if (user) {
        json_object *meta = json_object_new_object();
        if (aigw__json_put(body, "metadata", meta) ||
            aigw__json_put(meta, "user_id", json_object_new_string(user)))
            return oom(c->err);
    }
    if (c->call->op == AIGW__OP_CHAT_STREAM &&
        aigw__json_put(body, "stream", json_object_new_boolean(1)))
        return oom(c->err);
    return translate_tools(c, req, body);
}

/* Claude on Vertex AI:
 * {base}/projects/P/locations/L/publishers/anthropic/models/M:rawPredict
 * (":streamRawPredict" for streams). */
static aigw_status vertex_url(aigw__call *call, aigw__buf *url, aigw_error **err) {
    const aigw__backend *b = call->backend;
    if (!b->project || !b->location)
        return aigw__error_set(err, AIGW_ECONFIG, "backend \"%s\": no project or location",
                               b->name);
    char *model = curl_easy_escape(NULL, call->model, 0);
    aigw_status st =
        !model ? AIGW_ENOMEM
        : aigw__buf_printf(url,
                           "%s/projects/%s/locations/%s/publishers/anthropic/models/"
                           "%s:%s",
                           b->base_url, b->project, b->location, model,
                           call->op == AIGW__OP_CHAT_STREAM ? "streamRawPredict" : "rawPredict")
            ? AIGW_ENOMEM
            : AIGW_OK;
    curl_free(model);
    return st ? oom(err) : AIGW_OK;
}

aigw_status aigw__anthropic_build(aigw__call *call, aigw__upstream_request *out, int vertex,
                                  aigw_error **err) {
    if (call->op == AIGW__OP_EMBED)
        return aigw__error_set(err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": anthropic has no embeddings API",
                               call->backend->name);
    if (call->op == AIGW__OP_MODELS)
        return aigw__error_set(err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": model listing is not supported for the anthropic "
                               "schema",
                               call->backend->name);
    req_ctx c = {call, err, vertex};
    json_object *body = json_object_new_object();
    if (!body)
        return oom(err);
    aigw_status st = build_body(&c, body);
    if (st)
        goto out;
    out->method = "POST";
    if (vertex) {
        if ((st = vertex_url(call, &out->url, err)))
            goto out;
    } else if (aigw__buf_puts(&out->url, call->backend->base_url) ||
               aigw__buf_puts(&out->url, "/messages")) {
        st = oom(err);
        goto out;
    }
    const char *hdrs[] = {
        call->op == AIGW__OP_CHAT_STREAM ? "Accept: text/event-stream" : "Accept: application/json",
        "Content-Type: application/json", "anthropic-version: " ANTHROPIC_VERSION};
    /* Vertex takes the version in the body, not as a header. */
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0] - (vertex ? 1 : 0); i++) {
        struct curl_slist *h = curl_slist_append(out->headers, hdrs[i]);
        if (!h) {
            st = oom(err);
            goto out;
        }
        out->headers = h;
    }
    size_t len;
    const char *text = json_object_to_json_string_length(body, AIGW__JSON_FLAGS, &len);
    if (!text || aigw__buf_append(&out->body, text, len))
        st = oom(err);
out:
    json_object_put(body);
    return st;
}

static aigw_status anthropic_build(aigw__call *call, aigw__upstream_request *out,
                                   aigw_error **err) {
    return aigw__anthropic_build(call, out, 0, err);
}

static aigw_status gcp_anthropic_build(aigw__call *call, aigw__upstream_request *out,
                                       aigw_error **err) {
    return aigw__anthropic_build(call, out, 1, err);
}

/* Claude on Vertex AI: the same Messages API behind Vertex's URLs and
 * OAuth bearer tokens; answers, errors and streams are Anthropic's. */
const aigw__adapter aigw__adapter_gcp_anthropic = {
    .schema = "gcp-anthropic",
    .key_header = AIGW__KEY_BEARER,
    .build = gcp_anthropic_build,
    .parse = aigw__anthropic_parse,
    .error = aigw__anthropic_error,
    .stream_open = aigw__anthropic_stream_open,
    .stream_feed = aigw__anthropic_stream_feed,
    .stream_finish = aigw__anthropic_stream_finish,
    .stream_free = aigw__anthropic_stream_free,
};

const aigw__adapter aigw__adapter_anthropic = {
    .schema = "anthropic",
    .key_header = AIGW__KEY_X_API_KEY,
    .build = anthropic_build,
    .parse = aigw__anthropic_parse,
    .error = aigw__anthropic_error,
    .stream_open = aigw__anthropic_stream_open,
    .stream_feed = aigw__anthropic_stream_feed,
    .stream_finish = aigw__anthropic_stream_finish,
    .stream_free = aigw__anthropic_stream_free,
};
