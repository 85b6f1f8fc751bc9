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
 * call->usage stays unknown); Vertex's statistics.token_count is summed.
 *
 * Responses: candidates[i] → choices[i]; text parts joined into content;
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
 * AIGW_EAUTH), message "backend "NAME": HTTP N: MESSAGE", raw body kept.
 *
 * Streams (alt=sse): each data event is a GenerateContentResponse, turned
 * into one chat.completion.chunk per candidate (the first per choice with
 * delta.role). There is no [DONE]: the stream must have carried a
 * finishReason (or a prompt block) before its body ends, else
 * AIGW_ETRUNCATED; the usage-only chunk (choices []) comes at the end when
 * the caller asked for it. An event carrying "error" is AIGW_EUPSTREAM. */
#include "adapters/gemini.h"

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

#define MAX_CANDIDATES 1024 /* candidate indexes a stream may use */

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

static int is_array(json_object *v) {
    return v && json_object_is_type(v, json_type_array);
}

static int append_json(aigw__buf *out, json_object *o) {
    size_t n;
    const char *s = json_object_to_json_string_length(o, AIGW__JSON_FLAGS, &n);
    return !s || aigw__buf_append(out, s, n);
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
    json_object *iu = aigw__json_get(part, "image_url");
    const char *url = json_object_is_type(iu, json_type_string) ? json_object_get_string(iu)
                                                                : aigw__json_get_string(iu, "url");
    if (!url)
        return bad_request(c, "image_url part without a url");
    if (strncmp(url, "data:", 5) == 0) {
        const char *comma = strchr(url, ',');
        const char *semi = comma ? strstr(url, ";base64,") : NULL;
        if (!semi || semi + 7 != comma || semi == url + 5)
            return bad_request(c, "image data: URL is not base64 with a media type");
        *out = wrap2("inlineData", "mimeType",
                     json_object_new_string_len(url + 5, (int)(semi - url - 5)), "data",
                     json_object_new_string(comma + 1));
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
        if (args && *args) {
            if (aigw__json_parse(args, strlen(args), "tool call arguments", AIGW_EBADREQUEST,
                                 &input, NULL) ||
                !json_object_is_type(input, json_type_object)) {
                json_object_put(input);
                return aigw__error_set(c->err, AIGW_EBADREQUEST,
                                       "backend \"%s\": request: tool call \"%s\" arguments are "
                                       "not a JSON object",
                                       c->call->backend->name, name);
            }
        } else {
            input = json_object_new_object();
        }
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

/* ---- responses ---- */

static void read_usage(json_object *um, aigw__usage *u) {
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

static const char *finish_reason(const char *fr, int has_tools) {
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

/* One candidate read into OpenAI pieces. */
typedef struct cand_view {
    aigw__buf text, thought;
    int has_text, has_thought;
    json_object *tool_calls; /* array, owned */
    const char *gemini_fr;   /* finishReason or NULL */
} cand_view;

static const char *bufstr(const aigw__buf *b) {
    return b->data ? b->data : "";
}

static void cand_view_free(cand_view *v) {
    aigw__buf_free(&v->text);
    aigw__buf_free(&v->thought);
    json_object_put(v->tool_calls);
}

/* Reads `cand`; tool calls are numbered from *ntools (advanced), with an
 * "index" member when `stream`. -1 on allocation failure. */
static int read_candidate(json_object *cand, int *ntools, int stream, cand_view *v) {
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
    if (read_candidate(cand, ntools, 0, &v) || !(msg = json_object_new_object()))
        goto fail;
    int ntc = (int)json_object_array_length(v.tool_calls);
    if (aigw__json_put(msg, "role", json_object_new_string("assistant")) ||
        json_object_object_add(
            msg, "content", v.has_text || !ntc ? json_object_new_string(bufstr(&v.text)) : NULL) ||
        (v.has_thought &&
         aigw__json_put(msg, "reasoning_content", json_object_new_string(bufstr(&v.thought)))))
        goto fail;
    if (ntc) {
        if (aigw__json_put(msg, "tool_calls", v.tool_calls)) {
            v.tool_calls = NULL;
            goto fail;
        }
        v.tool_calls = NULL;
    }
    json_object *ch = make_choice(index, msg, finish_reason(v.gemini_fr, ntc > 0));
    cand_view_free(&v);
    return ch;
fail:
    json_object_put(msg);
    cand_view_free(&v);
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
    read_usage(aigw__json_get(root, "usageMetadata"), &call->usage);
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

static aigw_status gemini_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                aigw_error **err) {
    return parse_common(call, 0, body, len, out, err);
}

static aigw_status vertex_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                aigw_error **err) {
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

static aigw_status gemini_error(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err) {
    return error_common(call, http_status, body, len, err);
}

/* ---- streaming ---- */

typedef struct gemini_stream {
    aigw__chunk_writer w; /* id and model from the first event naming them */
    aigw__sse_parser sse;
    aigw_status status;
    int done;             /* a finishReason (or a prompt block) arrived */
    int *ntools;          /* per candidate index: tool calls so far */
    unsigned char *roled; /* per candidate index: delta.role sent */
    size_t ncand;
} gemini_stream;

static aigw_status grow(gemini_stream *s, size_t idx) {
    if (idx < s->ncand)
        return AIGW_OK;
    size_t n = idx + 4;
    int *t = aigw__reallocarray(s->ntools, n, sizeof *t);
    if (!t)
        return oom(s->w.err);
    s->ntools = t;
    unsigned char *r = aigw__reallocarray(s->roled, n, 1);
    if (!r)
        return oom(s->w.err);
    s->roled = r;
    for (size_t i = s->ncand; i < n; i++)
        t[i] = 0, r[i] = 0;
    s->ncand = n;
    return AIGW_OK;
}

static aigw_status stream_candidate(gemini_stream *s, json_object *cand, size_t i, const char *data,
                                    size_t len) {
    json_object *iv = aigw__json_get(cand, "index");
    long long idx = (long long)i;
    if (iv) {
        if (!json_object_is_type(iv, json_type_int))
            return aigw__chunks_bad(&s->w, data, len, "candidate index is not an integer");
        idx = json_object_get_int64(iv);
    }
    if (idx < 0 || idx >= MAX_CANDIDATES)
        return aigw__chunks_bad(&s->w, data, len, "candidate index out of range");
    aigw_status st = grow(s, (size_t)idx);
    if (st)
        return st;
    cand_view v;
    json_object *delta = NULL;
    if (read_candidate(cand, &s->ntools[idx], 1, &v) || !(delta = json_object_new_object())) {
        cand_view_free(&v);
        return oom(s->w.err);
    }
    size_t ntc = json_object_array_length(v.tool_calls);
    const char *fr = finish_reason(v.gemini_fr, s->ntools[idx] > 0);
    int fail = 0;
    if (!s->roled[idx])
        fail = aigw__json_put(delta, "role", json_object_new_string("assistant"));
    if (!fail && v.has_text)
        fail = aigw__json_put(delta, "content", json_object_new_string(bufstr(&v.text)));
    if (!fail && v.has_thought)
        fail =
            aigw__json_put(delta, "reasoning_content", json_object_new_string(bufstr(&v.thought)));
    if (!fail && ntc) {
        fail = aigw__json_put(delta, "tool_calls", v.tool_calls);
        v.tool_calls = NULL;
    }
    int has = v.has_text || v.has_thought || ntc || fr;
    cand_view_free(&v);
    if (fail) {
        json_object_put(delta);
        return oom(s->w.err);
    }
    if (!has) {
        json_object_put(delta);
        return AIGW_OK;
    }
    if (fr)
        s->done = 1;
    s->roled[idx] = 1;
    return aigw__chunks_emit(&s->w, (int)idx, delta, fr);
}

static aigw_status handle(gemini_stream *s, json_object *root, const char *data, size_t len) {
    json_object *e = aigw__json_get(root, "error");
    if (e) {
        const char *msg = json_object_is_type(e, json_type_string)
                              ? json_object_get_string(e)
                              : aigw__json_get_string(e, "message");
        return aigw__error_set_upstream(s->w.err, AIGW_EUPSTREAM, s->w.call->backend->name, 200,
                                        data, len, "backend \"%s\": error in stream: %s",
                                        s->w.call->backend->name, msg ? msg : "(no message)");
    }
    aigw_status st;
    if ((st =
             aigw__chunks_set_str(&s->w, &s->w.id, aigw__json_get_string(root, "responseId"), 0)) ||
        (st = aigw__chunks_set_str(&s->w, &s->w.model, aigw__json_get_string(root, "modelVersion"),
                                   0)))
        return st;
    read_usage(aigw__json_get(root, "usageMetadata"), &s->w.call->usage);
    json_object *cands = aigw__json_get(root, "candidates");
    size_t n = is_array(cands) ? json_object_array_length(cands) : 0;
    for (size_t i = 0; i < n; i++)
        if ((st = stream_candidate(s, json_object_array_get_idx(cands, i), i, data, len)))
            return st;
    if (n == 0 && aigw__json_get_string(aigw__json_get(root, "promptFeedback"), "blockReason")) {
        if ((st = grow(s, 0)))
            return st;
        json_object *delta = json_object_new_object();
        if (!delta ||
            (!s->roled[0] && aigw__json_put(delta, "role", json_object_new_string("assistant"))) ||
            aigw__json_put(delta, "content", json_object_new_string(""))) {
            json_object_put(delta);
            return oom(s->w.err);
        }
        s->roled[0] = 1;
        s->done = 1;
        return aigw__chunks_emit(&s->w, 0, delta, "content_filter");
    }
    return AIGW_OK;
}

static int on_event(const aigw__sse_event *ev, void *user) {
    gemini_stream *s = user;
    json_object *root = NULL;
    s->status = aigw__chunks_parse_event(&s->w, ev->data, ev->data_len,
                                         "event data is not a JSON object", &root);
    if (!s->status)
        s->status = handle(s, root, ev->data, ev->data_len);
    json_object_put(root);
    return s->status != AIGW_OK;
}

static aigw_status gemini_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                      aigw_error **err) {
    gemini_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    aigw__chunks_init(&s->w, call, sink, 0, AIGW__USAGE_REPORTED);
    aigw__sse_init(&s->sse, on_event, s);
    *state = s;
    return AIGW_OK;
}

static aigw_status gemini_stream_feed(void *state, const char *bytes, size_t len,
                                      aigw_error **err) {
    gemini_stream *s = state;
    s->w.err = err;
    return aigw__sse_feed_checked(&s->sse, &s->status, s->w.call, bytes, len, err);
}

static aigw_status gemini_stream_finish(void *state, aigw_error **err) {
    gemini_stream *s = state;
    s->w.err = err;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: %s", aigw_strerror(s->status));
    int pending = aigw__sse_finish(&s->sse);
    if (!s->done)
        return aigw__sse_truncated(s->w.call, "a finishReason", pending, err);
    return s->w.call->caller_wants_usage ? aigw__chunks_emit_usage(&s->w) : AIGW_OK;
}

static void gemini_stream_free(void *state) {
    gemini_stream *s = state;
    if (!s)
        return;
    aigw__sse_free(&s->sse);
    aigw__chunks_free(&s->w);
    aigw__free(s->ntools);
    aigw__free(s->roled);
    aigw__free(s);
}

const aigw__adapter aigw__adapter_gemini = {
    .schema = "gemini",
    .key_header = AIGW__KEY_GOOG,
    .build = gemini_build,
    .parse = gemini_parse,
    .error = gemini_error,
    .stream_open = gemini_stream_open,
    .stream_feed = gemini_stream_feed,
    .stream_finish = gemini_stream_finish,
    .stream_free = gemini_stream_free,
};

const aigw__adapter aigw__adapter_vertex = {
    .schema = "gcp-vertex",
    .key_header = AIGW__KEY_BEARER,
    .build = vertex_build,
    .parse = vertex_parse,
    .error = gemini_error,
    .stream_open = gemini_stream_open,
    .stream_feed = gemini_stream_feed,
    .stream_finish = gemini_stream_finish,
    .stream_free = gemini_stream_free,
};
