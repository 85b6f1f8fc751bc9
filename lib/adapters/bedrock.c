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
 * Responses and streams come back as OpenAI chat.completion(.chunk)s with
 * id "chatcmpl-bedrock-N" and the caller's model: text blocks joined into
 * message.content (null when none), toolUse blocks as tool_calls
 * (arguments = the serialized input), reasoningContent as
 * message.reasoning_content (delta.reasoning_content in streams); stop
 * reasons end_turn/stop_sequence → "stop", max_tokens → "length", tool_use
 * → "tool_calls", content_filtered/guardrail_intervened →
 * "content_filter"; prompt_tokens counts inputTokens plus cache reads and
 * writes, prompt_tokens_details.cached_tokens the cache reads.
 *
 * Streams are AWS event-stream messages (wire/eventstream.h): messageStart,
 * contentBlockStart (toolUse), contentBlockDelta (text, toolUse.input,
 * reasoningContent.text), contentBlockStop, messageStop and metadata (usage);
 * exceptions (throttlingException → AIGW_ERATELIMIT, validationException →
 * AIGW_EBADREQUEST, others → AIGW_EUPSTREAM) end the stream with the
 * payload's message. A stream without messageStop and metadata is
 * AIGW_ETRUNCATED.
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
 * control-plane endpoint (bedrock.REGION.amazonaws.com), not the runtime.
 *
 * Errors: AWS bodies {"message"} or {"Message"}; the type is in the
 * x-amzn-ErrorType header, which the adapter does not see, so the status
 * comes from the HTTP code (400 → EBADREQUEST, 403 → EPERMISSION, 404 →
 * ENOTFOUND, 429 → ERATELIMIT, 5xx → EUPSTREAM). */
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/eventstream.h"

#define MAX_BLOCKS 65536 /* stream content blocks we track */

static atomic_ullong bedrock_sequence;

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

static void next_id(char *id, size_t size) {
    snprintf(id, size, "chatcmpl-bedrock-%llu", (unsigned long long)++bedrock_sequence);
}

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

/* Appends the text of an OpenAI content value (string or text parts) to b. */
static aigw_status content_text(req_ctx *c, json_object *content, aigw__buf *b) {
    if (!content || json_object_is_type(content, json_type_null))
        return AIGW_OK;
    if (json_object_is_type(content, json_type_string))
        return aigw__buf_puts(b, json_object_get_string(content)) ? oom(c->err) : AIGW_OK;
    if (!json_object_is_type(content, json_type_array))
        return bad_request(c, "message content is not a string or an array");
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = aigw__json_get_string(part, "type");
        const char *text = aigw__json_get_string(part, "text");
        if (!type || strcmp(type, "text") != 0 || !text)
            return bad_request(c, "only text content parts are allowed here");
        if (aigw__buf_puts(b, text))
            return oom(c->err);
    }
    return AIGW_OK;
}

/* An OpenAI image_url part as a Converse image block, into *out. */
static aigw_status image_block(req_ctx *c, json_object *part, json_object **out) {
    json_object *iu = aigw__json_get(part, "image_url");
    const char *url = json_object_is_type(iu, json_type_string) ? json_object_get_string(iu)
                                                                : aigw__json_get_string(iu, "url");
    if (!url)
        return bad_request(c, "image_url part without a url");
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": image URLs are not supported by Bedrock Converse "
                               "(it takes image bytes or S3 locations): send a data: URL",
                               c->call->backend->name);
    if (strncmp(url, "data:", 5) != 0)
        return bad_request(c, "image URL must be a data: URL");
    const char *comma = strchr(url, ',');
    const char *semi = comma ? strstr(url, ";base64,") : NULL;
    if (!semi || semi + 7 != comma)
        return bad_request(c, "image data: URL is not base64 with a media type");
    size_t mlen = (size_t)(semi - url - 5);
    const char *mt = url + 5, *format = NULL;
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
    json_object *src = wrap("bytes", json_object_new_string(comma + 1));
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
        if (args && *args) {
            if (aigw__json_parse(args, strlen(args), "tool call arguments", AIGW_EBADREQUEST,
                                 &input, NULL) ||
                !json_object_is_type(input, json_type_object)) {
                json_object_put(input);
                return aigw__error_set(c->err, AIGW_EBADREQUEST,
                                       "backend \"%s\": request: tool call \"%.128s\" arguments "
                                       "are not a JSON object",
                                       c->call->backend->name, id);
            }
        } else if (!(input = json_object_new_object())) {
            return oom(c->err);
        }
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
    aigw_status st = content_text(c, aigw__json_get(msg, "content"), &text);
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
            st = content_text(c, aigw__json_get(m, "content"), &text);
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

typedef enum embed_family { EMBED_NONE, EMBED_TITAN, EMBED_COHERE } embed_family;

static embed_family family_of(const char *model) {
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
    embed_family fam = family_of(c->call->model);
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

/* ---- responses ---- */

static const char *finish_reason(const char *stop_reason) {
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
static void read_usage(json_object *usage, aigw__usage *u) {
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
    const char *fr = finish_reason(aigw__json_get_string(root, "stopReason"));
    if (!fail && !st) {
        char id[64];
        next_id(id, sizeof id);
        read_usage(aigw__json_get(root, "usage"), &call->usage);
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
    embed_family fam = family_of(call->model);
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

static aigw_status bedrock_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
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
static void aws_message(const char *body, size_t len, char *buf, size_t size) {
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

static aigw_status bedrock_error(aigw__call *call, long http_status, const char *body, size_t len,
                                 aigw_error **err) {
    char msg[1024];
    aws_message(body, len, msg, sizeof msg);
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

/* ---- streaming ---- */

typedef struct bedrock_stream {
    aigw__chunk_writer w; /* id "chatcmpl-bedrock-N", model call->model */
    aigw__es_decoder es;
    aigw_status status;
    int stopped;        /* messageStop arrived */
    int metadata;       /* metadata arrived */
    int *tool_of_block; /* contentBlockIndex → OpenAI tool ordinal, -1 if none */
    size_t nblocks;
    int ntools;
} bedrock_stream;

/* The slot for contentBlockIndex in root, or -1 after setting an error. */
static long block_slot(bedrock_stream *s, json_object *root, const char *data, size_t len,
                       aigw_status *st) {
    json_object *iv = aigw__json_get(root, "contentBlockIndex");
    if (!iv || !json_object_is_type(iv, json_type_int) || json_object_get_int64(iv) < 0 ||
        json_object_get_int64(iv) >= MAX_BLOCKS) {
        *st = aigw__chunks_bad(&s->w, data, len,
                               "content block event without a valid contentBlockIndex");
        return -1;
    }
    size_t idx = (size_t)json_object_get_int64(iv);
    if (idx >= s->nblocks) {
        size_t n = idx + 8;
        int *t = aigw__reallocarray(s->tool_of_block, n, sizeof *t);
        if (!t) {
            *st = oom(s->w.err);
            return -1;
        }
        for (size_t i = s->nblocks; i < n; i++)
            t[i] = -1;
        s->tool_of_block = t;
        s->nblocks = n;
    }
    return (long)idx;
}

static aigw_status handle_event(bedrock_stream *s, const char *type, json_object *root,
                                const char *data, size_t len) {
    aigw_status st = AIGW_OK;
    if (strcmp(type, "messageStart") == 0) {
        if (s->w.role_sent)
            return AIGW_OK;
        return aigw__chunks_emit_text(&s->w, "content", "");
    }
    if (strcmp(type, "contentBlockStart") == 0) {
        long idx = block_slot(s, root, data, len, &st);
        if (idx < 0)
            return st;
        json_object *tu = aigw__json_get(aigw__json_get(root, "start"), "toolUse");
        if (!tu)
            return AIGW_OK;
        const char *id = aigw__json_get_string(tu, "toolUseId");
        const char *name = aigw__json_get_string(tu, "name");
        if (!id || !name)
            return aigw__chunks_bad(&s->w, data, len, "toolUse start without toolUseId or name");
        if (s->tool_of_block[idx] < 0)
            s->tool_of_block[idx] = s->ntools++;
        return aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], id, name, "");
    }
    if (strcmp(type, "contentBlockDelta") == 0) {
        long idx = block_slot(s, root, data, len, &st);
        if (idx < 0)
            return st;
        json_object *d = aigw__json_get(root, "delta"), *v;
        const char *t;
        if ((t = aigw__json_get_string(d, "text")) != NULL)
            return *t ? aigw__chunks_emit_text(&s->w, "content", t) : AIGW_OK;
        if ((v = aigw__json_get(d, "toolUse")) != NULL) {
            const char *in = aigw__json_get_string(v, "input");
            if (!in || s->tool_of_block[idx] < 0)
                return aigw__chunks_bad(&s->w, data, len, "toolUse delta outside a toolUse block");
            return *in ? aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], NULL, NULL, in)
                       : AIGW_OK;
        }
        if ((v = aigw__json_get(d, "reasoningContent")) != NULL) {
            t = aigw__json_get_string(v, "text");
            return t && *t ? aigw__chunks_emit_text(&s->w, "reasoning_content", t) : AIGW_OK;
        }
        return AIGW_OK; /* signatures, citations, new kinds */
    }
    if (strcmp(type, "messageStop") == 0) {
        s->stopped = 1;
        const char *fr = finish_reason(aigw__json_get_string(root, "stopReason"));
        json_object *d = json_object_new_object();
        if (!d)
            return oom(s->w.err);
        return aigw__chunks_emit(&s->w, 0, d, fr ? fr : "stop");
    }
    if (strcmp(type, "metadata") == 0) {
        s->metadata = 1;
        read_usage(aigw__json_get(root, "usage"), &s->w.call->usage);
        return s->w.call->caller_wants_usage ? aigw__chunks_emit_usage(&s->w) : AIGW_OK;
    }
    return AIGW_OK; /* contentBlockStop and unknown events */
}

/* The string value of header `name`, or NULL. */
static const aigw__es_header *find_header(const aigw__es_message *m, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < m->n_headers; i++)
        if (m->headers[i].name_len == n && memcmp(m->headers[i].name, name, n) == 0 &&
            m->headers[i].type == AIGW__ES_STRING)
            return &m->headers[i];
    return NULL;
}

static aigw_status handle_exception(bedrock_stream *s, const aigw__es_message *m) {
    const char *et = m->exception_type;
    aigw_status es = AIGW_EUPSTREAM;
    if (strcmp(et, "throttlingException") == 0)
        es = AIGW_ERATELIMIT;
    else if (strcmp(et, "validationException") == 0)
        es = AIGW_EBADREQUEST;
    char msg[1024];
    aws_message(m->payload, m->payload_len, msg, sizeof msg);
    return aigw__error_set_upstream(s->w.err, es, s->w.call->backend->name, 200, m->payload,
                                    m->payload_len > 4096 ? 4096 : m->payload_len,
                                    "backend \"%s\": %s in stream: %s", s->w.call->backend->name,
                                    *et ? et : "exception", msg[0] ? msg : "(no message)");
}

static int on_message(const aigw__es_message *m, void *user) {
    bedrock_stream *s = user;
    if (s->stopped && s->metadata)
        return 0; /* nothing counts after the end */
    if (strcmp(m->message_type, "exception") == 0) {
        s->status = handle_exception(s, m);
        return 1;
    }
    if (strcmp(m->message_type, "error") == 0) {
        const aigw__es_header *code = find_header(m, ":error-code");
        const aigw__es_header *text = find_header(m, ":error-message");
        s->status = aigw__error_set_upstream(
            s->w.err, AIGW_EUPSTREAM, s->w.call->backend->name, 200, m->payload,
            m->payload_len > 4096 ? 4096 : m->payload_len,
            "backend \"%s\": error in stream: %.*s: %.*s", s->w.call->backend->name,
            code ? (int)(code->value_len > 128 ? 128 : code->value_len) : 7,
            code ? code->value : "unknown",
            text ? (int)(text->value_len > 512 ? 512 : text->value_len) : 12,
            text ? text->value : "(no message)");
        return 1;
    }
    if (strcmp(m->message_type, "event") != 0)
        return 0; /* unknown message types */
    json_object *root = NULL;
    s->status = aigw__chunks_parse_event(&s->w, m->payload, m->payload_len,
                                         "event payload is not a JSON object", &root);
    if (!s->status) {
        /* Tolerate the payload wrapped in its event name. */
        json_object *inner = aigw__json_get(root, m->event_type);
        if (inner && json_object_is_type(inner, json_type_object))
            s->status = handle_event(s, m->event_type, inner, m->payload, m->payload_len);
        else
            s->status = handle_event(s, m->event_type, root, m->payload, m->payload_len);
    }
    json_object_put(root);
    return s->status != AIGW_OK;
}

static aigw_status bedrock_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                       aigw_error **err) {
    bedrock_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    aigw__chunks_init(&s->w, call, sink, 1, AIGW__USAGE_SUM);
    char id[64];
    next_id(id, sizeof id);
    if (!(s->w.id = aigw__strdup(id))) {
        aigw__free(s);
        return oom(err);
    }
    aigw__es_init(&s->es, on_message, s);
    *state = s;
    return AIGW_OK;
}

static aigw_status bedrock_stream_feed(void *state, const char *bytes, size_t len,
                                       aigw_error **err) {
    bedrock_stream *s = state;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: already failed: %s",
                               aigw_strerror(s->status));
    s->w.err = err;
    aigw_status st = aigw__es_feed(&s->es, bytes, len);
    s->w.err = NULL;
    if (s->status)
        return s->status;
    if (st == AIGW_EBADRESPONSE)
        return aigw__error_set_upstream(err, st, s->w.call->backend->name, 200, NULL, 0,
                                        "backend \"%s\": stream: bad event-stream framing: %s",
                                        s->w.call->backend->name,
                                        s->es.detail[0] ? s->es.detail : "(no detail)");
    if (st)
        return aigw__error_set(err, st, "stream: %s", aigw_strerror(st));
    return AIGW_OK;
}

static aigw_status bedrock_stream_finish(void *state, aigw_error **err) {
    bedrock_stream *s = state;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: already failed: %s",
                               aigw_strerror(s->status));
    int pending = aigw__es_finish(&s->es);
    if (!s->stopped || !s->metadata)
        return aigw__error_set_upstream(
            err, AIGW_ETRUNCATED, s->w.call->backend->name, 200, NULL, 0,
            "backend \"%s\": stream ended without %s%s", s->w.call->backend->name,
            !s->stopped ? "messageStop" : "metadata", pending ? " (inside a message)" : "");
    return AIGW_OK;
}

static void bedrock_stream_free(void *state) {
    bedrock_stream *s = state;
    if (!s)
        return;
    aigw__es_free(&s->es);
    aigw__chunks_free(&s->w);
    aigw__free(s->tool_of_block);
    aigw__free(s);
}

const aigw__adapter aigw__adapter_bedrock = {
    .schema = "aws-bedrock",
    .key_header = AIGW__KEY_BEARER,
    .build = bedrock_build,
    .parse = bedrock_parse,
    .error = bedrock_error,
    .stream_open = bedrock_stream_open,
    .stream_feed = bedrock_stream_feed,
    .stream_finish = bedrock_stream_finish,
    .stream_free = bedrock_stream_free,
};
