/* SPDX-License-Identifier: Apache-2.0 */
/* The aws-bedrock schema: the Bedrock Runtime API.
 *
 *   chat         POST {base_url}/model/{modelId}/converse
 *   chat stream  POST {base_url}/model/{modelId}/converse-stream
 *   embeddings   POST {base_url}/model/{modelId}/invoke   (InvokeModel)
 *
 * with the model id URL-escaped (":" → "%3A"). Auth is SigV4, added by the
 * credentials stage after build: this adapter never signs.
 *
 * Chat requests are translated from OpenAI chat.completions to Converse:
 * - system and developer messages become "system": [{"text"}, ...] (one
 *   entry per non-empty message); user, assistant and tool messages become
 *   "messages" with content blocks, consecutive messages of the same
 *   Converse role merged (Converse requires alternation); text parts →
 *   {"text"}; image_url data: URLs → {"image":{"format","source":{"bytes"}}}
 *   (png, jpeg, gif, webp); http(s) image URLs are AIGW_ENOTSUPPORTED
 *   (Converse takes bytes or S3 locations only); assistant tool_calls →
 *   {"toolUse":{"toolUseId","name","input"}} (arguments that are not a JSON
 *   object are AIGW_EBADREQUEST); tool messages → user
 *   {"toolResult":{"toolUseId","content":[{"text"}]}}.
 * - tools → toolConfig.tools[].toolSpec {name, description,
 *   inputSchema.json}; tool_choice "auto" → {"auto":{}}, "required" →
 *   {"any":{}}, {"function":{"name"}} → {"tool":{"name"}}; "none" omits the
 *   whole toolConfig (Converse has no "none"; note Bedrock then rejects a
 *   history that holds toolUse/toolResult blocks).
 * - max_completion_tokens (else max_tokens) → inferenceConfig.maxTokens,
 *   temperature → temperature, top_p → topP, stop → stopSequences.
 * - "n" > 1 is AIGW_ENOTSUPPORTED (Converse answers one choice).
 * - Dropped, having no Converse equivalent: logprobs, top_logprobs,
 *   response_format, seed, presence_penalty, frequency_penalty, logit_bias,
 *   parallel_tool_calls, user, stream, stream_options, modalities, audio,
 *   prediction, store, service_tier, reasoning_effort, metadata and any
 *   unknown field.
 *
 * Embeddings via InvokeModel, by model family:
 * - amazon.titan-embed-text*: {"inputText","dimensions"?,"normalize":true};
 *   one text per call, so an input array of more than one is
 *   AIGW_ENOTSUPPORTED.
 * - cohere.embed-*: {"texts":[...],"input_type":"search_document"};
 *   "dimensions" is dropped; Cohere's body carries no token counts, so the
 *   usage is 0 and call->usage stays unknown.
 * - other families are AIGW_ENOTSUPPORTED; token-array inputs are
 *   AIGW_EBADREQUEST.
 * encoding_format "base64" is produced here (float32 little-endian).
 *
 * Model listing is AIGW_ENOTSUPPORTED: ListFoundationModels lives on the
 * control-plane endpoint (bedrock.REGION.amazonaws.com), not the runtime. */
#include "adapters/bedrock_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "adapters/request_parts.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

/* ---- requests ---- */

typedef struct req_ctx {
    aigw__call *call;
    aigw_error **err;
} req_ctx;

static aigw_status bad_request(req_ctx *c, const char *what) {
    return aigw__error_set(c->err, AIGW_EBADREQUEST, "backend \"%s\": request: %s",
                           c->call->backend->name, what);
}

/* {"text": text} */
static json_object *text_block(const char *text) {
    json_object *b = json_object_new_object();
    if (!b || aigw__json_put(b, "text", json_object_new_string(text))) {
        json_object_put(b);
        return NULL;
    }
    return b;
}

/* {key: inner}, taking inner. */
static json_object *wrap(const char *key, json_object *inner) {
    json_object *o = json_object_new_object();
    if (!o || aigw__json_put(o, key, inner)) {
        json_object_put(o);
        if (!o)
            json_object_put(inner);
        return NULL;
    }
    return o;
}

/* An OpenAI image_url part as a Converse image block, into *out. */
static aigw_status image_block(req_ctx *c, json_object *part, json_object **out) {
    const char *url = aigw__image_part_url(part);
    if (!url)
        return bad_request(c, "image_url part without a url");
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": image URLs are not supported by Bedrock Converse "
                               "(it takes image bytes or S3 locations): send a data: URL",
                               c->call->backend->name);
    if (strncmp(url, "data:", 5) != 0)
        return bad_request(c, "image URL must be a data: URL");
    const char *mt, *data, *format = NULL;
    size_t mlen;
    if (aigw__data_url_base64(url, &mt, &mlen, &data))
        return bad_request(c, "image data: URL is not base64 with a media type");
    static const struct {
        const char *media, *format;
    } formats[] = {{"image/png", "png"},
                   {"image/jpeg", "jpeg"},
                   {"image/jpg", "jpeg"},
                   {"image/gif", "gif"},
                   {"image/webp", "webp"}};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strlen(formats[i].media) == mlen && strncmp(mt, formats[i].media, mlen) == 0)
            format = formats[i].format;
    if (!format)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": image type \"%.*s\" is not supported by Bedrock "
                               "Converse (png, jpeg, gif, webp)",
                               c->call->backend->name, (int)(mlen > 64 ? 64 : mlen), mt);
    json_object *img = json_object_new_object();
    json_object *src = wrap("bytes", json_object_new_string(data));
    if (!img || !src || aigw__json_put(img, "format", json_object_new_string(format))) {
        json_object_put(img);
        json_object_put(src);
        return oom(c->err);
    }
    if (aigw__json_put(img, "source", src)) {
        json_object_put(img);
        return oom(c->err);
    }
    if (!(*out = wrap("image", img)))
        return oom(c->err);
    return AIGW_OK;
}

/* User or assistant content (string or parts) as blocks appended to `blocks`. */
static aigw_status content_blocks(req_ctx *c, json_object *content, json_object *blocks) {
    if (!content || json_object_is_type(content, json_type_null))
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
                                   "backend \"%s\": content part type \"%.64s\" is not supported "
                                   "by the aws-bedrock schema",
                                   c->call->backend->name, type ? type : "(none)");
        }
    }
    return AIGW_OK;
}

static aigw_status tool_use_blocks(req_ctx *c, json_object *calls, json_object *blocks) {
    if (!calls || json_object_is_type(calls, json_type_null))
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
        if (aigw__tool_args_parse(args, 1, &input))
            return aigw__error_set(c->err, AIGW_EBADREQUEST,
                                   "backend \"%s\": request: tool call \"%.128s\" arguments "
                                   "are not a JSON object",
                                   c->call->backend->name, id);
        if (!input)
            return oom(c->err);
        json_object *tu = json_object_new_object();
        if (!tu || aigw__json_put(tu, "toolUseId", json_object_new_string(id)) ||
            aigw__json_put(tu, "name", json_object_new_string(name))) {
            json_object_put(tu);
            json_object_put(input);
            return oom(c->err);
        }
        if (aigw__json_put(tu, "input", input)) {
            json_object_put(tu);
            return oom(c->err);
        }
        if (aigw__json_push(blocks, wrap("toolUse", tu)))
            return oom(c->err);
    }
    return AIGW_OK;
}

static aigw_status tool_result_block(req_ctx *c, json_object *msg, json_object *blocks) {
    const char *id = aigw__json_get_string(msg, "tool_call_id");
    if (!id)
        return bad_request(c, "tool message without tool_call_id");
    aigw__buf text = AIGW__BUF_INIT;
    aigw_status st = aigw__content_text(c->call, c->err, aigw__json_get(msg, "content"), 1, &text);
    if (st) {
        aigw__buf_free(&text);
        return st;
    }
    json_object *tr = json_object_new_object(), *content = json_object_new_array();
    if (!tr || !content || aigw__json_push(content, text_block(text.data ? text.data : ""))) {
        json_object_put(tr);
        json_object_put(content);
        st = oom(c->err);
    } else if (aigw__json_put(tr, "content", content) ||
               aigw__json_put(tr, "toolUseId", json_object_new_string(id)) ||
               aigw__json_push(blocks, wrap("toolResult", json_object_get(tr)))) {
        st = oom(c->err);
    }
    json_object_put(tr);
    aigw__buf_free(&text);
    return st;
}

/* Translates "messages" into the body's "system" and "messages". */
static aigw_status translate_messages(req_ctx *c, json_object *req, json_object *body) {
    json_object *msgs = aigw__json_get(req, "messages");
    if (!msgs || !json_object_is_type(msgs, json_type_array))
        return bad_request(c, "no \"messages\" array");
    json_object *out = json_object_new_array(), *system = json_object_new_array();
    if (aigw__json_put(body, "messages", out)) {
        json_object_put(system);
        return oom(c->err);
    }
    const char *last_role = NULL; /* Converse role of the last message in out */
    json_object *blocks = json_object_new_array();
    aigw_status st = blocks && system ? AIGW_OK : oom(c->err);
    for (size_t i = 0; !st && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = aigw__json_get_string(m, "role");
        if (!role) {
            st = bad_request(c, "message without a role");
            break;
        }
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            aigw__buf text = AIGW__BUF_INIT;
            st = aigw__content_text(c->call, c->err, aigw__json_get(m, "content"), 1, &text);
            if (!st && text.len && aigw__json_push(system, text_block(text.data)))
                st = oom(c->err);
            aigw__buf_free(&text);
            continue;
        }
        const char *crole = "user";
        json_object_array_del_idx(blocks, 0, json_object_array_length(blocks));
        if (strcmp(role, "user") == 0) {
            st = content_blocks(c, aigw__json_get(m, "content"), blocks);
        } else if (strcmp(role, "assistant") == 0) {
            crole = "assistant";
            st = content_blocks(c, aigw__json_get(m, "content"), blocks);
            if (!st)
                st = tool_use_blocks(c, aigw__json_get(m, "tool_calls"), blocks);
        } else if (strcmp(role, "tool") == 0) {
            st = tool_result_block(c, m, blocks);
        } else {
            st = aigw__error_set(c->err, AIGW_EBADREQUEST,
                                 "backend \"%s\": request: unknown message role \"%.64s\"",
                                 c->call->backend->name, role);
        }
        if (st || json_object_array_length(blocks) == 0)
            continue;
        json_object *target;
        if (last_role && strcmp(last_role, crole) == 0) {
            json_object *lastm = json_object_array_get_idx(out, json_object_array_length(out) - 1);
            target = aigw__json_get(lastm, "content");
        } else {
            json_object *nm = json_object_new_object();
            target = json_object_new_array();
            if (!nm || aigw__json_put(nm, "role", json_object_new_string(crole))) {
                json_object_put(nm);
                json_object_put(target);
                st = oom(c->err);
                break;
            }
            if (aigw__json_put(nm, "content", target) || aigw__json_push(out, nm)) {
                json_object_put(nm);
                st = oom(c->err);
                break;
            }
            last_role = crole;
        }
        for (size_t j = 0; j < json_object_array_length(blocks); j++)
            if (aigw__json_push(target, json_object_get(json_object_array_get_idx(blocks, j)))) {
                st = oom(c->err);
                break;
            }
    }
    json_object_put(blocks);
    if (!st && system && json_object_array_length(system)) {
        if (aigw__json_put(body, "system", system))
            st = oom(c->err);
        system = NULL;
    }
    json_object_put(system);
    return st;
}

static aigw_status translate_tools(req_ctx *c, json_object *req, json_object *body) {
    json_object *tools = aigw__json_get(req, "tools");
    json_object *tc = aigw__json_get(req, "tool_choice");
    if (!tools || json_object_is_type(tools, json_type_null))
        return AIGW_OK;
    if (!json_object_is_type(tools, json_type_array))
        return bad_request(c, "\"tools\" is not an array");
    const char *choice = NULL, *name = NULL;
    if (tc && json_object_is_type(tc, json_type_string)) {
        const char *s = json_object_get_string(tc);
        if (strcmp(s, "none") == 0)
            return AIGW_OK; /* no toolConfig at all: see the top of the file */
        choice = strcmp(s, "auto") == 0 ? "auto" : strcmp(s, "required") == 0 ? "any" : NULL;
        if (!choice)
            return bad_request(c, "unknown \"tool_choice\"");
    } else if (tc && !json_object_is_type(tc, json_type_null)) {
        if (!(name = aigw__json_get_string(aigw__json_get(tc, "function"), "name")))
            return bad_request(c, "unknown \"tool_choice\"");
        choice = "tool";
    }
    if (json_object_array_length(tools) == 0)
        return AIGW_OK; /* Converse refuses an empty tool list */
    json_object *config = json_object_new_object(), *out = json_object_new_array();
    if (aigw__json_put(body, "toolConfig", config)) {
        json_object_put(out);
        return oom(c->err);
    }
    if (aigw__json_put(config, "tools", out))
        return oom(c->err);
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        const char *type = aigw__json_get_string(t, "type");
        json_object *fn = aigw__json_get(t, "function");
        const char *fname = aigw__json_get_string(fn, "name");
        if (!type || strcmp(type, "function") != 0 || !fname)
            return bad_request(c, "only function tools with a name are supported");
        const char *desc = aigw__json_get_string(fn, "description");
        json_object *params = aigw__json_get(fn, "parameters");
        json_object *schema = params ? json_object_get(params) : json_object_new_object();
        if (!params && schema && aigw__json_put(schema, "type", json_object_new_string("object"))) {
            json_object_put(schema);
            return oom(c->err);
        }
        json_object *spec = json_object_new_object();
        if (!spec || aigw__json_put(spec, "name", json_object_new_string(fname)) ||
            (desc && aigw__json_put(spec, "description", json_object_new_string(desc)))) {
            json_object_put(spec);
            json_object_put(schema);
            return oom(c->err);
        }
        if (aigw__json_put(spec, "inputSchema", wrap("json", schema))) {
            json_object_put(spec);
            return oom(c->err);
        }
        if (aigw__json_push(out, wrap("toolSpec", spec)))
            return oom(c->err);
    }
    if (choice) {
        json_object *inner = json_object_new_object();
        if (inner && name && aigw__json_put(inner, "name", json_object_new_string(name))) {
            json_object_put(inner);
            return oom(c->err);
        }
        if (aigw__json_put(config, "toolChoice", wrap(choice, inner)))
            return oom(c->err);
    }
    return AIGW_OK;
}

static aigw_status build_converse(req_ctx *c, json_object *body) {
    json_object *req = c->call->request, *v;
    if (!req || !json_object_is_type(req, json_type_object))
        return bad_request(c, "not a JSON object");
    if ((v = aigw__json_get(req, "n")) && aigw__json_is_number(v) && json_object_get_int64(v) > 1)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": Bedrock Converse answers one choice: \"n\" > 1 "
                               "is not supported",
                               c->call->backend->name);
    aigw_status st = translate_messages(c, req, body);
    if (st)
        return st;
    json_object *ic = json_object_new_object();
    if (!ic)
        return oom(c->err);
    if ((((v = aigw__json_get(req, "max_completion_tokens")) && aigw__json_is_number(v)) ||
         ((v = aigw__json_get(req, "max_tokens")) && aigw__json_is_number(v))) &&
        aigw__json_put(ic, "maxTokens", json_object_new_int64(json_object_get_int64(v))))
        goto fail_oom;
    if ((v = aigw__json_get(req, "temperature")) && aigw__json_is_number(v) &&
        aigw__json_put(ic, "temperature", json_object_get(v)))
        goto fail_oom;
    if ((v = aigw__json_get(req, "top_p")) && aigw__json_is_number(v) &&
        aigw__json_put(ic, "topP", json_object_get(v)))
        goto fail_oom;
    if ((v = aigw__json_get(req, "stop")) != NULL) {
        json_object *seqs = NULL;
        if (json_object_is_type(v, json_type_string)) {
            seqs = json_object_new_array();
            if (aigw__json_push(seqs, json_object_new_string(json_object_get_string(v)))) {
                json_object_put(seqs);
                goto fail_oom;
            }
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++)
                if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) {
                    json_object_put(ic);
                    return bad_request(c, "\"stop\" array holds a non-string");
                }
            seqs = json_object_array_length(v) ? json_object_get(v) : NULL;
        } else if (!json_object_is_type(v, json_type_null)) {
            json_object_put(ic);
            return bad_request(c, "\"stop\" is not a string or an array");
        }
        if (seqs && aigw__json_put(ic, "stopSequences", seqs))
            goto fail_oom;
    }
    if (json_object_object_length(ic)) {
        if (aigw__json_put(body, "inferenceConfig", ic))
            return oom(c->err);
    } else {
        json_object_put(ic);
    }
    return translate_tools(c, req, body);
fail_oom:
    json_object_put(ic);
    return oom(c->err);
}

embed_family aigw__bedrock_family_of(const char *model) {
    if (strncmp(model, "amazon.titan-embed-text", 23) == 0)
        return EMBED_TITAN;
    if (strncmp(model, "cohere.embed-", 13) == 0)
        return EMBED_COHERE;
    return EMBED_NONE;
}

static aigw_status build_embed(req_ctx *c, json_object *body) {
    json_object *req = c->call->request, *v;
    if (!req || !json_object_is_type(req, json_type_object))
        return bad_request(c, "not a JSON object");
    embed_family fam = aigw__bedrock_family_of(c->call->model);
    if (fam == EMBED_NONE)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": embeddings for model \"%.128s\" are not supported "
                               "(amazon.titan-embed-text* and cohere.embed-* are)",
                               c->call->backend->name, c->call->model);
    json_object *input = aigw__json_get(req, "input");
    if (!input)
        return bad_request(c, "no \"input\"");
    json_object *texts = NULL;
    if (json_object_is_type(input, json_type_string)) {
        texts = json_object_new_array();
        if (aigw__json_push(texts, json_object_get(input))) {
            json_object_put(texts);
            return oom(c->err);
        }
    } else if (json_object_is_type(input, json_type_array) && json_object_array_length(input)) {
        for (size_t i = 0; i < json_object_array_length(input); i++)
            if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string))
                return bad_request(c, "\"input\" must be a string or an array of strings "
                                      "(token arrays are not supported by aws-bedrock)");
        texts = json_object_get(input);
    } else {
        return bad_request(c, "\"input\" must be a string or a non-empty array of strings");
    }
    aigw_status st = AIGW_OK;
    if (fam == EMBED_TITAN) {
        if (json_object_array_length(texts) > 1) {
            st = aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                                 "backend \"%s\": Titan text embeddings take one text per call: "
                                 "send \"input\" as a single string",
                                 c->call->backend->name);
        } else if (aigw__json_put(body, "inputText",
                                  json_object_get(json_object_array_get_idx(texts, 0))) ||
                   ((v = aigw__json_get(req, "dimensions")) && aigw__json_is_number(v) &&
                    aigw__json_put(body, "dimensions",
                                   json_object_new_int64(json_object_get_int64(v)))) ||
                   aigw__json_put(body, "normalize", json_object_new_boolean(1))) {
            st = oom(c->err);
        }
    } else {
        if (aigw__json_put(body, "texts", json_object_get(texts)) ||
            aigw__json_put(body, "input_type", json_object_new_string("search_document")))
            st = oom(c->err);
    }
    json_object_put(texts);
    return st;
}

static aigw_status bedrock_build(aigw__call *call, aigw__upstream_request *out, aigw_error **err) {
    if (call->op == AIGW__OP_MODELS)
        return aigw__error_set(err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": model listing is not supported for the "
                               "aws-bedrock schema (ListFoundationModels is a control-plane API)",
                               call->backend->name);
    req_ctx c = {call, err};
    json_object *body = json_object_new_object();
    if (!body)
        return oom(err);
    char *model = NULL;
    aigw_status st = call->op == AIGW__OP_EMBED ? build_embed(&c, body) : build_converse(&c, body);
    if (st)
        goto out;
    if (!(model = curl_easy_escape(NULL, call->model, 0))) {
        st = oom(err);
        goto out;
    }
    const char *action = call->op == AIGW__OP_EMBED         ? "/invoke"
                         : call->op == AIGW__OP_CHAT_STREAM ? "/converse-stream"
                                                            : "/converse";
    out->method = "POST";
    if (aigw__buf_puts(&out->url, call->backend->base_url) ||
        aigw__buf_puts(&out->url, "/model/") || aigw__buf_puts(&out->url, model) ||
        aigw__buf_puts(&out->url, action)) {
        st = oom(err);
        goto out;
    }
    const char *hdrs[] = {"Content-Type: application/json",
                          call->op == AIGW__OP_CHAT_STREAM
                              ? "Accept: application/vnd.amazon.eventstream"
                              : "Accept: application/json"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
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
    curl_free(model);
    json_object_put(body);
    return st;
}

const aigw__adapter aigw__adapter_bedrock = {
    .schema = "aws-bedrock",
    .key_header = AIGW__KEY_BEARER,
    .build = bedrock_build,
    .parse = aigw__bedrock_parse,
    .error = aigw__bedrock_error,
    .stream_open = aigw__bedrock_stream_open,
    .stream_feed = aigw__bedrock_stream_feed,
    .stream_finish = aigw__bedrock_stream_finish,
    .stream_free = aigw__bedrock_stream_free,
};
