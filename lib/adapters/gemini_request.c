/* SPDX-License-Identifier: Apache-2.0 */
/* Google Gemini: the Gemini API (schema "gemini", AI Studio, key in
 * "x-goog-api-key") and Vertex AI (schema "gcp-vertex", an OAuth access
 * token as "Authorization: Bearer", supplied by the credentials stage).
 *
 * URLs ({base} is the backend's base_url, {model} the model without its
 * provider prefix and without a leading "models/"):
 *   gemini  {base}/models/{model}:generateContent
 *           {base}/models/{model}:streamGenerateContent?alt=sse
 *           {base}/models/{model}:batchEmbedContents
 *           GET {base}/models (first page only: Google's default page size)
 *   vertex  {base}/projects/{project}/locations/{location}/publishers/google/
 *           models/{model}:generateContent, :streamGenerateContent?alt=sse,
 *           :predict (embeddings); model listing is AIGW_ENOTSUPPORTED.
 *           A backend without project or location is AIGW_EINVAL.
 *
 * Requests are translated from OpenAI chat.completions:
 * - system and developer messages become systemInstruction (one text part
 *   per text); user → role "user", assistant → role "model", tool → role
 *   "user" with a functionResponse part whose name is looked up from the
 *   tool_call_id in earlier assistant tool_calls (else the message's
 *   "name") and whose response is {"content": the tool text parsed as JSON,
 *   or the text as a string}; consecutive same-role messages are merged.
 * - text parts → {"text"}; image_url data: URLs → inlineData, http(s) and
 *   gs:// URLs → fileData (mimeType guessed from the extension, default
 *   image/jpeg); input_audio → inlineData audio/{format}; assistant
 *   tool_calls → functionCall parts (arguments must be a JSON object).
 * - tools → tools[0].functionDeclarations ({name, description, parameters});
 *   tool_choice → toolConfig.functionCallingConfig.mode AUTO/NONE/ANY (a
 *   named function: ANY + allowedFunctionNames).
 * - generationConfig: temperature, topP, maxOutputTokens
 *   (max_completion_tokens, else max_tokens), stopSequences (stop),
 *   candidateCount (n), seed, presencePenalty, frequencyPenalty;
 *   response_format json_object → responseMimeType "application/json",
 *   json_schema → the same plus responseSchema = json_schema.schema, passed
 *   as-is: JSON-schema keywords Gemini's OpenAPI subset lacks are not
 *   removed, and Google may refuse them.
 * - Dropped: user, logprobs, top_logprobs, logit_bias, parallel_tool_calls,
 *   stream_options, reasoning_effort, store, service_tier, unknown fields.
 * Embeddings: "input" string or array of strings, "dimensions" →
 * outputDimensionality, encoding_format float or base64 (float32 LE).
 * The Gemini API does not report embedding token counts (usage 0, and
 * call->usage stays unknown); Vertex's statistics.token_count is summed. */
#include "adapters/gemini_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "adapters/request_parts.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/sse.h"

/* ---- requests ---- */

typedef struct req_ctx {
    aigw__call *call;
    aigw_error **err;
} req_ctx;

static aigw_status bad_request(req_ctx *c, const char *what) {
    return aigw__error_set(c->err, AIGW_EBADREQUEST, "backend \"%s\": request: %s",
                           c->call->backend->name, what);
}

static json_object *text_part(const char *text) {
    json_object *p = json_object_new_object();
    if (!p || aigw__json_put(p, "text", json_object_new_string(text))) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

/* {key: {k1: v1, k2: v2}} */
static json_object *wrap2(const char *key, const char *k1, json_object *v1, const char *k2,
                          json_object *v2) {
    json_object *p = json_object_new_object(), *in = json_object_new_object();
    int ok = p && in;
    if (ok) {
        ok = !aigw__json_put(in, k1, v1);
        v1 = NULL;
    }
    if (ok) {
        ok = !aigw__json_put(in, k2, v2);
        v2 = NULL;
    }
    if (ok) {
        ok = !aigw__json_put(p, key, in);
        in = NULL;
    }
    json_object_put(v1);
    json_object_put(v2);
    json_object_put(in);
    if (!ok) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

static const char *guess_mime(const char *url) {
    static const char *const table[][2] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},   {"webp", "image/webp"},     {"heic", "image/heic"},
        {"heif", "image/heif"}, {"pdf", "application/pdf"}, {"mp3", "audio/mp3"},
        {"wav", "audio/wav"},   {"flac", "audio/flac"},     {"ogg", "audio/ogg"},
        {"mp4", "video/mp4"},   {"mov", "video/mov"},       {"webm", "video/webm"},
        {"txt", "text/plain"},
    };
    size_t end = strcspn(url, "?#"), i = end;
    while (i > 0 && url[i - 1] != '.' && url[i - 1] != '/')
        i--;
    if (i == 0 || url[i - 1] != '.' || end - i == 0 || end - i > 4)
        return "image/jpeg";
    char ext[8];
    size_t n = end - i;
    for (size_t k = 0; k < n; k++) {
        char ch = url[i + k];
        ext[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    ext[n] = '\0';
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(ext, table[k][0]) == 0)
            return table[k][1];
    return "image/jpeg";
}

static aigw_status image_part(req_ctx *c, json_object *part, json_object **out) {
    const char *url = aigw__image_part_url(part);
    if (!url)
        return bad_request(c, "image_url part without a url");
    if (strncmp(url, "data:", 5) == 0) {
        const char *media, *data;
        size_t mlen;
        if (aigw__data_url_base64(url, &media, &mlen, &data) || mlen == 0)
            return bad_request(c, "image data: URL is not base64 with a media type");
        *out = wrap2("inlineData", "mimeType", json_object_new_string_len(media, (int)mlen), "data",
                     json_object_new_string(data));
    } else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 ||
               strncmp(url, "gs://", 5) == 0) {
        *out = wrap2("fileData", "mimeType", json_object_new_string(guess_mime(url)), "fileUri",
                     json_object_new_string(url));
    } else {
        return bad_request(c, "image URL must be a data:, http(s) or gs:// URL");
    }
    return *out ? AIGW_OK : oom(c->err);
}

static aigw_status audio_part(req_ctx *c, json_object *part, json_object **out) {
    json_object *ia = aigw__json_get(part, "input_audio");
    const char *data = aigw__json_get_string(ia, "data");
    const char *format = aigw__json_get_string(ia, "format");
    if (!data || !format)
        return bad_request(c, "input_audio part without data or format");
    char mime[64];
    snprintf(mime, sizeof mime, "audio/%s", format);
    *out = wrap2("inlineData", "mimeType", json_object_new_string(mime), "data",
                 json_object_new_string(data));
    return *out ? AIGW_OK : oom(c->err);
}

/* Content (string or parts) as Gemini parts appended to `parts`; media
 * parts only when `media`. */
static aigw_status content_parts(req_ctx *c, json_object *content, json_object *parts, int media) {
    if (!content || json_object_is_type(content, json_type_null))
        return AIGW_OK;
    if (json_object_is_type(content, json_type_string)) {
        const char *text = json_object_get_string(content);
        if (*text && aigw__json_push(parts, text_part(text)))
            return oom(c->err);
        return AIGW_OK;
    }
    if (!json_object_is_type(content, json_type_array))
        return bad_request(c, "message content is not a string or an array");
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *part = json_object_array_get_idx(content, i), *p = NULL;
        const char *type = aigw__json_get_string(part, "type");
        aigw_status st = AIGW_OK;
        if (type && strcmp(type, "text") == 0) {
            const char *text = aigw__json_get_string(part, "text");
            if (!text)
                return bad_request(c, "text part without text");
            if (!*text)
                continue;
            if (!(p = text_part(text)))
                return oom(c->err);
        } else if (media && type && strcmp(type, "image_url") == 0) {
            st = image_part(c, part, &p);
        } else if (media && type && strcmp(type, "input_audio") == 0) {
            st = audio_part(c, part, &p);
        } else if (!media) {
            return bad_request(c, "only text content parts are allowed here");
        } else {
            return aigw__error_set(c->err, AIGW_ENOTSUPPORTED,
                                   "backend \"%s\": content part type \"%s\" is not supported "
                                   "by the gemini schema",
                                   c->call->backend->name, type ? type : "(none)");
        }
        if (st)
            return st;
        if (aigw__json_push(parts, p))
            return oom(c->err);
    }
    return AIGW_OK;
}

static aigw_status function_calls(req_ctx *c, json_object *calls, json_object *parts) {
    if (!calls || json_object_is_type(calls, json_type_null))
        return AIGW_OK;
    if (!is_array(calls))
        return bad_request(c, "tool_calls is not an array");
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *fn = aigw__json_get(json_object_array_get_idx(calls, i), "function");
        const char *name = aigw__json_get_string(fn, "name");
        const char *args = aigw__json_get_string(fn, "arguments");
        if (!name)
            return bad_request(c, "tool call without a function name");
        json_object *input = NULL;
        if (aigw__tool_args_parse(args, 1, &input))
            return aigw__error_set(c->err, AIGW_EBADREQUEST,
                                   "backend \"%s\": request: tool call \"%s\" arguments are "
                                   "not a JSON object",
                                   c->call->backend->name, name);
        if (aigw__json_push(
                parts, wrap2("functionCall", "name", json_object_new_string(name), "args", input)))
            return oom(c->err);
    }
    return AIGW_OK;
}

/* The function name of tool call `id` in the assistant messages before msgs[upto]. */
static const char *lookup_tool_name(json_object *msgs, size_t upto, const char *id) {
    for (size_t i = upto; i-- > 0;) {
        json_object *m = json_object_array_get_idx(msgs, i);
        json_object *calls = aigw__json_get(m, "tool_calls");
        if (!is_array(calls))
            continue;
        for (size_t j = 0; j < json_object_array_length(calls); j++) {
            json_object *tc = json_object_array_get_idx(calls, j);
            const char *tid = aigw__json_get_string(tc, "id");
            if (tid && strcmp(tid, id) == 0)
                return aigw__json_get_string(aigw__json_get(tc, "function"), "name");
        }
    }
    return NULL;
}

static aigw_status function_response(req_ctx *c, json_object *msgs, size_t i, json_object *parts) {
    json_object *m = json_object_array_get_idx(msgs, i);
    const char *id = aigw__json_get_string(m, "tool_call_id");
    const char *name = id ? lookup_tool_name(msgs, i, id) : NULL;
    if (!name)
        name = aigw__json_get_string(m, "name");
    if (!name)
        return aigw__error_set(c->err, AIGW_EBADREQUEST,
                               "backend \"%s\": request: tool message's tool_call_id \"%s\" "
                               "matches no earlier assistant tool call",
                               c->call->backend->name, id ? id : "(none)");
    json_object *content = aigw__json_get(m, "content");
    aigw__buf text = AIGW__BUF_INIT;
    if (content && json_object_is_type(content, json_type_string)) {
        if (aigw__buf_puts(&text, json_object_get_string(content)))
            return oom(c->err);
    } else if (is_array(content)) {
        for (size_t k = 0; k < json_object_array_length(content); k++) {
            const char *t = aigw__json_get_string(json_object_array_get_idx(content, k), "text");
            if (t && aigw__buf_puts(&text, t)) {
                aigw__buf_free(&text);
                return oom(c->err);
            }
        }
    }
    json_object *value = NULL;
    const char *s = text.data ? text.data : "";
    if (aigw__json_parse(s, strlen(s), "tool result", AIGW_EBADREQUEST, &value, NULL) &&
        !(value = json_object_new_string(s))) {
        aigw__buf_free(&text);
        return oom(c->err);
    }
    aigw__buf_free(&text);
    json_object *resp = json_object_new_object();
    if (!resp || json_object_object_add(resp, "content", value)) {
        json_object_put(value);
        json_object_put(resp);
        return oom(c->err);
    }
    if (aigw__json_push(parts, wrap2("functionResponse", "name", json_object_new_string(name),
                                     "response", resp)))
        return oom(c->err);
    return AIGW_OK;
}

static aigw_status translate_messages(req_ctx *c, json_object *req, json_object *body) {
    json_object *msgs = aigw__json_get(req, "messages");
    if (!is_array(msgs))
        return bad_request(c, "no \"messages\" array");
    json_object *contents = json_object_new_array();
    if (aigw__json_put(body, "contents", contents))
        return oom(c->err);
    json_object *sys = json_object_new_array();
    if (!sys)
        return oom(c->err);
    const char *last_role = NULL;
    aigw_status st = AIGW_OK;
    for (size_t i = 0; !st && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = aigw__json_get_string(m, "role");
        if (!role) {
            st = bad_request(c, "message without a role");
            break;
        }
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            st = content_parts(c, aigw__json_get(m, "content"), sys, 0);
            continue;
        }
        json_object *parts = json_object_new_array();
        if (!parts) {
            st = oom(c->err);
            break;
        }
        const char *grole = "user";
        if (strcmp(role, "user") == 0) {
            st = content_parts(c, aigw__json_get(m, "content"), parts, 1);
        } else if (strcmp(role, "assistant") == 0) {
            grole = "model";
            st = content_parts(c, aigw__json_get(m, "content"), parts, 1);
            if (!st)
                st = function_calls(c, aigw__json_get(m, "tool_calls"), parts);
        } else if (strcmp(role, "tool") == 0) {
            st = function_response(c, msgs, i, parts);
        } else {
            st = aigw__error_set(c->err, AIGW_EBADREQUEST,
                                 "backend \"%s\": request: unknown message role \"%s\"",
                                 c->call->backend->name, role);
        }
        if (!st && json_object_array_length(parts)) {
            if (last_role && strcmp(last_role, grole) == 0) {
                json_object *last =
                    json_object_array_get_idx(contents, json_object_array_length(contents) - 1);
                json_object *target = aigw__json_get(last, "parts");
                for (size_t j = 0; !st && j < json_object_array_length(parts); j++)
                    if (aigw__json_push(target,
                                        json_object_get(json_object_array_get_idx(parts, j))))
                        st = oom(c->err);
            } else {
                json_object *nm = json_object_new_object();
                if (!nm || aigw__json_put(nm, "role", json_object_new_string(grole)) ||
                    aigw__json_put(nm, "parts", json_object_get(parts)) ||
                    aigw__json_push(contents, nm)) {
                    json_object_put(nm);
                    st = oom(c->err);
                }
                last_role = grole;
            }
        }
        json_object_put(parts);
    }
    if (!st && json_object_array_length(sys)) {
        json_object *si = json_object_new_object();
        if (!si || aigw__json_put(si, "parts", json_object_get(sys))) {
            json_object_put(si);
            st = oom(c->err);
        } else if (aigw__json_put(body, "systemInstruction", si)) {
            st = oom(c->err);
        }
    }
    json_object_put(sys);
    return st;
}

static aigw_status translate_tools(req_ctx *c, json_object *req, json_object *body) {
    json_object *tools = aigw__json_get(req, "tools");
    if (tools && !json_object_is_type(tools, json_type_null)) {
        if (!is_array(tools))
            return bad_request(c, "\"tools\" is not an array");
        json_object *decls = json_object_new_array();
        if (!decls)
            return oom(c->err);
        for (size_t i = 0; i < json_object_array_length(tools); i++) {
            json_object *t = json_object_array_get_idx(tools, i);
            const char *type = aigw__json_get_string(t, "type");
            json_object *fn = aigw__json_get(t, "function");
            const char *name = aigw__json_get_string(fn, "name");
            if (!type || strcmp(type, "function") != 0 || !name) {
                json_object_put(decls);
                return bad_request(c, "only function tools with a name are supported");
            }
            const char *desc = aigw__json_get_string(fn, "description");
            json_object *params = aigw__json_get(fn, "parameters");
            json_object *d = json_object_new_object();
            if (!d || aigw__json_put(d, "name", json_object_new_string(name)) ||
                (desc && aigw__json_put(d, "description", json_object_new_string(desc))) ||
                (params && aigw__json_put(d, "parameters", json_object_get(params))) ||
                aigw__json_push(decls, d)) {
                json_object_put(d);
                json_object_put(decls);
                return oom(c->err);
            }
        }
        if (json_object_array_length(decls)) {
            json_object *arr = json_object_new_array(), *t = json_object_new_object();
            if (!arr || !t || aigw__json_put(t, "functionDeclarations", decls)) {
                if (!arr || !t)
                    json_object_put(decls);
                json_object_put(arr);
                json_object_put(t);
                return oom(c->err);
            }
            if (aigw__json_push(arr, t) || aigw__json_put(body, "tools", arr)) {
                json_object_put(arr);
                return oom(c->err);
            }
        } else {
            json_object_put(decls);
        }
    }
    json_object *tc = aigw__json_get(req, "tool_choice");
    if (!tc || json_object_is_type(tc, json_type_null))
        return AIGW_OK;
    const char *mode = NULL, *name = NULL;
    if (json_object_is_type(tc, json_type_string)) {
        const char *s = json_object_get_string(tc);
        mode = strcmp(s, "auto") == 0       ? "AUTO"
               : strcmp(s, "none") == 0     ? "NONE"
               : strcmp(s, "required") == 0 ? "ANY"
                                            : NULL;
    } else if ((name = aigw__json_get_string(aigw__json_get(tc, "function"), "name")) != NULL) {
        mode = "ANY";
    }
    if (!mode)
        return bad_request(c, "unknown \"tool_choice\"");
    json_object *cfg = json_object_new_object(), *fcc = json_object_new_object();
    if (!cfg || !fcc || aigw__json_put(fcc, "mode", json_object_new_string(mode))) {
        json_object_put(cfg);
        json_object_put(fcc);
        return oom(c->err);
    }
    if (name) {
        json_object *names = json_object_new_array();
        if (!names || aigw__json_push(names, json_object_new_string(name))) {
            json_object_put(names);
            names = NULL;
        }
        if (aigw__json_put(fcc, "allowedFunctionNames", names)) {
            json_object_put(cfg);
            json_object_put(fcc);
            return oom(c->err);
        }
    }
    if (aigw__json_put(cfg, "functionCallingConfig", fcc)) {
        json_object_put(cfg);
        return oom(c->err);
    }
    if (aigw__json_put(body, "toolConfig", cfg))
        return oom(c->err);
    return AIGW_OK;
}

/* Copies a numeric request field into the generation config. */
static int copy_num(json_object *req, const char *from, json_object *gc, const char *to) {
    json_object *v = aigw__json_get(req, from);
    return v && aigw__json_is_number(v) ? aigw__json_put(gc, to, json_object_get(v)) : 0;
}

static aigw_status generation_config(req_ctx *c, json_object *req, json_object *gc) {
    json_object *v;
    if (copy_num(req, "temperature", gc, "temperature") || copy_num(req, "top_p", gc, "topP") ||
        copy_num(req, "n", gc, "candidateCount") || copy_num(req, "seed", gc, "seed") ||
        copy_num(req, "presence_penalty", gc, "presencePenalty") ||
        copy_num(req, "frequency_penalty", gc, "frequencyPenalty"))
        return oom(c->err);
    if (((v = aigw__json_get(req, "max_completion_tokens")) && aigw__json_is_number(v)) ||
        ((v = aigw__json_get(req, "max_tokens")) && aigw__json_is_number(v)))
        if (aigw__json_put(gc, "maxOutputTokens", json_object_get(v)))
            return oom(c->err);
    if ((v = aigw__json_get(req, "stop")) != NULL) {
        json_object *seqs = NULL;
        if (json_object_is_type(v, json_type_string)) {
            seqs = json_object_new_array();
            if (!seqs || aigw__json_push(seqs, json_object_new_string(json_object_get_string(v)))) {
                json_object_put(seqs);
                return oom(c->err);
            }
        } else if (is_array(v)) {
            for (size_t i = 0; i < json_object_array_length(v); i++)
                if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                    return bad_request(c, "\"stop\" array holds a non-string");
            seqs = json_object_get(v);
        } else if (!json_object_is_type(v, json_type_null)) {
            return bad_request(c, "\"stop\" is not a string or an array");
        }
        if (seqs && aigw__json_put(gc, "stopSequences", seqs))
            return oom(c->err);
    }
    json_object *rf = aigw__json_get(req, "response_format");
    if (rf && !json_object_is_type(rf, json_type_null)) {
        const char *type = aigw__json_get_string(rf, "type");
        if (!type)
            return bad_request(c, "\"response_format\" without a type");
        if (strcmp(type, "json_object") == 0 || strcmp(type, "json_schema") == 0) {
            if (aigw__json_put(gc, "responseMimeType", json_object_new_string("application/json")))
                return oom(c->err);
            json_object *schema = aigw__json_get(aigw__json_get(rf, "json_schema"), "schema");
            if (strcmp(type, "json_schema") == 0 && schema &&
                aigw__json_put(gc, "responseSchema", json_object_get(schema)))
                return oom(c->err);
        } else if (strcmp(type, "text") != 0) {
            return bad_request(c, "unknown \"response_format\" type");
        }
    }
    return AIGW_OK;
}

static aigw_status chat_body(req_ctx *c, json_object *body) {
    json_object *req = c->call->request;
    if (!req || !json_object_is_type(req, json_type_object))
        return bad_request(c, "not a JSON object");
    aigw_status st = translate_messages(c, req, body);
    if (st || (st = translate_tools(c, req, body)))
        return st;
    json_object *gc = json_object_new_object();
    if (!gc)
        return oom(c->err);
    st = generation_config(c, req, gc);
    if (!st && json_object_object_length(gc)) {
        if (aigw__json_put(body, "generationConfig", gc))
            st = oom(c->err);
        gc = NULL;
    }
    json_object_put(gc);
    return st;
}

static aigw_status embed_body(req_ctx *c, int vertex, json_object *body) {
    json_object *req = c->call->request;
    json_object *input = aigw__json_get(req, "input"), *dims = aigw__json_get(req, "dimensions");
    int single = input && json_object_is_type(input, json_type_string);
    if (!single && !is_array(input))
        return bad_request(c, "\"input\" must be a string or an array of strings");
    size_t n = single ? 1 : json_object_array_length(input);
    if (n == 0)
        return bad_request(c, "\"input\" is empty");
    if (dims && !json_object_is_type(dims, json_type_int))
        return bad_request(c, "\"dimensions\" must be an integer");
    const char *format = aigw__json_get_string(req, "encoding_format");
    if (format && strcmp(format, "float") != 0 && strcmp(format, "base64") != 0)
        return bad_request(c, "\"encoding_format\" must be \"float\" or \"base64\"");
    json_object *list = json_object_new_array();
    if (aigw__json_put(body, vertex ? "instances" : "requests", list))
        return oom(c->err);
    char model[512];
    snprintf(model, sizeof model, "models/%s", c->call->model);
    for (size_t i = 0; i < n; i++) {
        json_object *s = single ? input : json_object_array_get_idx(input, i);
        if (!s || !json_object_is_type(s, json_type_string))
            return bad_request(c, "\"input\" must be a string or an array of strings");
        json_object *item = json_object_new_object();
        if (!item || aigw__json_push(list, item))
            return oom(c->err);
        if (vertex) {
            if (aigw__json_put(item, "content", json_object_get(s)))
                return oom(c->err);
            continue;
        }
        json_object *content = json_object_new_object(), *parts = json_object_new_array();
        if (!content || !parts || aigw__json_put(item, "model", json_object_new_string(model)) ||
            aigw__json_push(parts, text_part(json_object_get_string(s)))) {
            json_object_put(content);
            json_object_put(parts);
            return oom(c->err);
        }
        if (aigw__json_put(content, "parts", parts)) {
            json_object_put(content);
            return oom(c->err);
        }
        if (aigw__json_put(item, "content", content) ||
            (dims && aigw__json_put(item, "outputDimensionality", json_object_get(dims))))
            return oom(c->err);
    }
    if (vertex && dims) {
        json_object *params = json_object_new_object();
        if (aigw__json_put(body, "parameters", params) ||
            aigw__json_put(params, "outputDimensionality", json_object_get(dims)))
            return oom(c->err);
    }
    return AIGW_OK;
}

static aigw_status add_header(aigw__upstream_request *out, const char *line, aigw_error **err) {
    struct curl_slist *h = curl_slist_append(out->headers, line);
    if (!h)
        return oom(err);
    out->headers = h;
    return AIGW_OK;
}

static aigw_status build_common(aigw__call *call, int vertex, aigw__upstream_request *out,
                                aigw_error **err) {
    const aigw__backend *b = call->backend;
    if (vertex && call->op == AIGW__OP_MODELS)
        return aigw__error_set(err, AIGW_ENOTSUPPORTED,
                               "backend \"%s\": model listing is not supported for the "
                               "gcp-vertex schema",
                               b->name);
    if (vertex && (!b->project || !*b->project || !b->location || !*b->location))
        return aigw__error_set(err, AIGW_EINVAL,
                               "backend \"%s\": the gcp-vertex schema needs a \"project\" and a "
                               "\"location\"",
                               b->name);
    if (!b->base_url)
        return aigw__error_set(err, AIGW_EINVAL, "backend \"%s\": no base URL", b->name);
    if (aigw__buf_puts(&out->url, b->base_url))
        return oom(err);
    if (call->op == AIGW__OP_MODELS) {
        out->method = "GET";
        if (aigw__buf_puts(&out->url, "/models"))
            return oom(err);
        return add_header(out, "Accept: application/json", err);
    }
    const char *model = call->model ? call->model : "";
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    char *m = curl_easy_escape(NULL, model, 0), *p = NULL, *l = NULL;
    aigw_status st = AIGW_OK;
    if (!m || (vertex && (!(p = curl_easy_escape(NULL, b->project, 0)) ||
                          !(l = curl_easy_escape(NULL, b->location, 0))))) {
        st = oom(err);
    } else if (vertex ? aigw__buf_printf(&out->url,
                                         "/projects/%s/locations/%s/publishers/google/models/%s", p,
                                         l, m)
                      : aigw__buf_printf(&out->url, "/models/%s", m)) {
        st = oom(err);
    }
    curl_free(m);
    curl_free(p);
    curl_free(l);
    if (st)
        return st;
    const char *suffix = call->op == AIGW__OP_CHAT_STREAM ? ":streamGenerateContent?alt=sse"
                         : call->op == AIGW__OP_EMBED
                             ? (vertex ? ":predict" : ":batchEmbedContents")
                             : ":generateContent";
    if (aigw__buf_puts(&out->url, suffix))
        return oom(err);
    out->method = "POST";
    if ((st = add_header(out,
                         call->op == AIGW__OP_CHAT_STREAM ? "Accept: text/event-stream"
                                                          : "Accept: application/json",
                         err)) ||
        (st = add_header(out, "Content-Type: application/json", err)))
        return st;
    json_object *body = json_object_new_object();
    if (!body)
        return oom(err);
    req_ctx c = {call, err};
    const char *saved = call->model;
    call->model = model;
    st = call->op == AIGW__OP_EMBED ? embed_body(&c, vertex, body) : chat_body(&c, body);
    call->model = saved;
    if (!st && append_json(&out->body, body))
        st = oom(err);
    json_object_put(body);
    return st;
}

static aigw_status gemini_build(aigw__call *call, aigw__upstream_request *out, aigw_error **err) {
    return build_common(call, 0, out, err);
}

static aigw_status vertex_build(aigw__call *call, aigw__upstream_request *out, aigw_error **err) {
    return build_common(call, 1, out, err);
}

const aigw__adapter aigw__adapter_gemini = {
    .schema = "gemini",
    .key_header = AIGW__KEY_GOOG,
    .build = gemini_build,
    .parse = aigw__gemini_parse,
    .error = aigw__gemini_error,
    .stream_open = aigw__gemini_stream_open,
    .stream_feed = aigw__gemini_stream_feed,
    .stream_finish = aigw__gemini_stream_finish,
    .stream_free = aigw__gemini_stream_free,
};

const aigw__adapter aigw__adapter_vertex = {
    .schema = "gcp-vertex",
    .key_header = AIGW__KEY_BEARER,
    .build = vertex_build,
    .parse = aigw__gemini_vertex_parse,
    .error = aigw__gemini_error,
    .stream_open = aigw__gemini_stream_open,
    .stream_feed = aigw__gemini_stream_feed,
    .stream_finish = aigw__gemini_stream_finish,
    .stream_free = aigw__gemini_stream_free,
};
