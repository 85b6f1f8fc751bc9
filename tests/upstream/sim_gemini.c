/* SPDX-License-Identifier: Apache-2.0 */
/* Google's generateContent wire format, served twice: the Gemini API (AI
 * Studio) under /gemini/v1beta/... with an API key, and Vertex AI at its real
 * path shape /v1/projects/P/locations/L/publishers/google/models/M:... with a
 * Bearer token. Answers are deterministic: the model echoes the last user
 * turn, embeddings are derived from a hash of each text. See README.md. */
#include "sim_router.h"
#include "sim_tokens.h"
#include "sim_vertex.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G_MAX_DIMENSIONS 8192
#define G_DEFAULT_DIMENSIONS 8

void sim_gemini_register(void);
void sim_gemini_set_bearer_token(const char *token);

static const char *bearer_token; /* --bearer-token: Vertex AI needs it */
static unsigned long response_seq;

/* ---- errors ---- */

static const char *g_status_name(int status) {
    switch (status) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 499:
        return "CANCELLED";
    case 501:
        return "UNIMPLEMENTED";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return status >= 500 ? "INTERNAL" : status >= 400 ? "FAILED_PRECONDITION" : "UNKNOWN";
    }
}

static const char *g_default_message(int status) {
    switch (status) {
    case 400:
        return "Request contains an invalid argument.";
    case 401:
        return "Request had invalid authentication credentials. Expected OAuth 2 access token, "
               "login cookie or other valid authentication credential. See "
               "https://developers.google.com/identity/sign-in/web/devconsole-project.";
    case 403:
        return "The caller does not have permission";
    case 404:
        return "Requested entity was not found.";
    case 429:
        return "Resource has been exhausted (e.g. check quota).";
    case 503:
        return "The model is overloaded. Please try again later.";
    case 504:
        return "Deadline expired before operation could complete.";
    default:
        return status >= 500 ? "An internal error has occurred. Please retry or report in "
                               "https://developers.generativeai.google/guide/troubleshooting"
                             : "Simulated error.";
    }
}

/* {"error":{"code","message","status"[,"details":[ErrorInfo REASON]]}} */
static void g_error_full(sim_response *res, int status, const char *message, const char *reason) {
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(status));
    json_object_object_add(e, "message",
                           json_object_new_string(message ? message : g_default_message(status)));
    json_object_object_add(e, "status", json_object_new_string(g_status_name(status)));
    if (reason) {
        json_object *info = json_object_new_object();
        json_object *meta = json_object_new_object();
        json_object_object_add(info, "@type",
                               json_object_new_string("type.googleapis.com/google.rpc.ErrorInfo"));
        json_object_object_add(info, "reason", json_object_new_string(reason));
        json_object_object_add(info, "domain", json_object_new_string("googleapis.com"));
        json_object_object_add(meta, "service",
                               json_object_new_string("generativelanguage.googleapis.com"));
        json_object_object_add(info, "metadata", meta);
        json_object *details = json_object_new_array();
        json_object_array_add(details, info);
        json_object_object_add(e, "details", details);
    }
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void g_invalid(sim_response *res, const char *message) {
    g_error_full(res, 400, message, NULL);
}

/* ---- auth ---- */

/* Why the last Gemini API auth check failed: the router calls the provider's
 * error function with 401 right after a failed check, and Google answers a
 * missing key (403) differently from a wrong one (400). */
static enum { AUTH_OK, AUTH_MISSING, AUTH_WRONG } gem_auth_failure;

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The percent-decoded value of query parameter NAME in REQ's URL (newly
 * allocated), or NULL when absent. */
static char *query_param(const sim_request *req, const char *name) {
    const char *q = req->url.data ? strchr(req->url.data, '?') : NULL;
    size_t nlen = strlen(name);
    while (q && *q) {
        q++;
        const char *end = strchr(q, '&');
        if (!end)
            end = q + strlen(q);
        if ((size_t)(end - q) >= nlen && memcmp(q, name, nlen) == 0 &&
            (q + nlen == end || q[nlen] == '=')) {
            const char *v = q + nlen == end ? end : q + nlen + 1;
            sim_buf out = {0};
            sim_buf_puts(&out, "");
            for (; v < end; v++) {
                if (*v == '%' && end - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    char c = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    sim_buf_append(&out, &c, 1);
                    v += 2;
                } else {
                    sim_buf_append(&out, *v == '+' ? " " : v, 1);
                }
            }
            return sim_buf_take(&out, NULL);
        }
        q = *end ? end : NULL;
    }
    return NULL;
}

static int gem_authorized(const sim_request *req, const char *api_key) {
    const char *h = sim_request_header(req, "x-goog-api-key");
    char *q = h ? NULL : query_param(req, "key");
    const char *key = h ? h : q;
    int ok = key && strcmp(key, api_key) == 0;
    gem_auth_failure = ok ? AUTH_OK : key && *key ? AUTH_WRONG : AUTH_MISSING;
    free(q);
    return ok;
}

static void gem_error(sim_response *res, int status, const char *message) {
    if (status == 401 && gem_auth_failure != AUTH_OK) {
        int missing = gem_auth_failure == AUTH_MISSING;
        gem_auth_failure = AUTH_OK;
        if (missing)
            g_error_full(res, 403,
                         "Method doesn't allow unregistered callers (callers without established "
                         "identity). Please use API Key or other form of API consumer identity to "
                         "call this API.",
                         NULL);
        else
            g_error_full(res, 400, "API key not valid. Please pass a valid API key.",
                         "API_KEY_INVALID");
        return;
    }
    g_error_full(res, status, message, NULL);
}

int sim_vertex_token_ok(const sim_request *req) {
    if (!bearer_token)
        return 1;
    const char *h = sim_request_header(req, "authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 &&
           (strcmp(h + 7, bearer_token) == 0 || sim_token_valid(h + 7, "google"));
}

static int vx_authorized(const sim_request *req, const char *api_key) {
    (void)api_key; /* Vertex AI takes the --bearer-token, not the API key */
    return sim_vertex_token_ok(req);
}

static void vx_error(sim_response *res, int status, const char *message) {
    g_error_full(res, status, message, NULL);
}

void sim_gemini_set_bearer_token(const char *token) {
    bearer_token = token && *token ? token : NULL;
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

/* 1 when any object in O (recursively) has the key KEY. */
static int has_key(json_object *o, const char *key) {
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            if (strcmp(k, key) == 0 || has_key(v, key))
                return 1;
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if (has_key(json_object_array_get_idx(o, i), key))
                return 1;
    }
    return 0;
}

/* The model id in ".../models/ID:method" (newly allocated). */
static char *model_of(const char *path) {
    const char *m = path, *p;
    while ((p = strstr(m, "/models/")) != NULL)
        m = p + 8;
    const char *colon = strchr(m, ':');
    return sim_xstrndup(m, colon ? (size_t)(colon - m) : strlen(m));
}

/* A 200 JSON answer, or (fault malformed=1) a body that is not JSON. */
static void g_json(const sim_request *req, sim_response *res, json_object *obj) {
    if (req->fault.malformed) {
        static const char bad[] = "{\"candidates\": [{\"content\": <this is not JSON";
        sim_res_body(res, 200, "application/json; charset=UTF-8", bad, sizeof(bad) - 1);
        return;
    }
    sim_res_json(res, 200, obj);
}

static int require_object(const sim_request *req, sim_response *res) {
    if (req->json && json_object_is_type(req->json, json_type_object))
        return 1;
    g_invalid(res, "Invalid JSON payload received. Unexpected token.");
    return 0;
}

/* Appends the text parts of PARTS to OUT (may be NULL) and adds their words
 * (and those of functionCall / functionResponse parts) to *WORDS. Returns 1
 * when a part is a functionResponse. */
static int parts_text(json_object *parts, sim_buf *out, size_t *words) {
    int fn_response = 0;
    size_t n = json_object_is_type(parts, json_type_array) ? json_object_array_length(parts) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(parts, i);
        json_object *text = get(part, "text");
        if (text && json_object_is_type(text, json_type_string)) {
            const char *s = json_object_get_string(text);
            size_t len = (size_t)json_object_get_string_len(text);
            if (out)
                sim_buf_append(out, s, len);
            *words += sim_count_words(s, len);
        }
        json_object *fr = get(part, "functionResponse");
        json_object *fc = get(part, "functionCall");
        if (fr)
            fn_response = 1;
        if (fr || fc) {
            size_t len;
            char *s = sim_json_dump(fr ? fr : fc, &len);
            *words += sim_count_words(s, len);
            free(s);
        }
    }
    return fn_response;
}

/* ---- generateContent ---- */

typedef struct gen_answer {
    char *model;
    char *text;      /* the answer text; NULL for a function call */
    char *fn_name;   /* the function call's name */
    json_object *fn; /* the function call's args */
    const char *finish;
    int blocked, unsafe, thinking, cached;
    size_t prompt_tokens, candidate_tokens, thought_tokens;
    char response_id[32];
} gen_answer;

static void answer_free(gen_answer *a) {
    free(a->model);
    free(a->text);
    free(a->fn_name);
    if (a->fn)
        json_object_put(a->fn);
}

/* Checks the request and works the answer out. Returns 0, or -1 after
 * answering RES with an error. */
static int gen_prepare(const sim_request *req, sim_response *res, gen_answer *a) {
    memset(a, 0, sizeof(*a));
    if (!require_object(req, res))
        return -1;
    json_object *body = req->json;
    json_object *contents = get(body, "contents");
    if (!contents || !json_object_is_type(contents, json_type_array) ||
        json_object_array_length(contents) == 0) {
        g_invalid(res, "* GenerateContentRequest.contents: contents is not specified\n");
        return -1;
    }
    size_t n = json_object_array_length(contents);
    json_object *last_user = NULL;
    int last_is_fn_response = 0;
    size_t prompt = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(contents, i);
        char msg[160];
        if (!c || !json_object_is_type(c, json_type_object)) {
            snprintf(msg, sizeof(msg),
                     "Invalid value at 'contents[%zu]' (type.googleapis.com/"
                     "google.ai.generativelanguage.v1beta.Content)",
                     i);
            g_invalid(res, msg);
            return -1;
        }
        json_object *role = get(c, "role");
        const char *r = role && json_object_is_type(role, json_type_string)
                            ? json_object_get_string(role)
                        : role ? ""
                               : "user"; /* Google takes a missing role as user */
        if (strcmp(r, "user") != 0 && strcmp(r, "model") != 0) {
            g_invalid(res, "Please use a valid role: user, model.");
            return -1;
        }
        json_object *parts = get(c, "parts");
        if (!parts || !json_object_is_type(parts, json_type_array) ||
            json_object_array_length(parts) == 0) {
            snprintf(msg, sizeof(msg),
                     "* GenerateContentRequest.contents[%zu].parts: contents.parts must not be "
                     "empty.\n",
                     i);
            g_invalid(res, msg);
            return -1;
        }
        int fr = parts_text(parts, NULL, &prompt);
        if (strcmp(r, "user") == 0) {
            /* the echo: the last user turn with text (not only a functionResponse) */
            size_t dummy = 0;
            sim_buf t = {0};
            parts_text(parts, &t, &dummy);
            if (t.len)
                last_user = c;
            sim_buf_free(&t);
        }
        last_is_fn_response = strcmp(r, "user") == 0 && fr;
    }
    json_object *sys = get(body, "systemInstruction");
    if (sys && json_object_is_type(sys, json_type_object))
        parts_text(get(sys, "parts"), NULL, &prompt);
    else if (sys && json_object_is_type(sys, json_type_string))
        prompt +=
            sim_count_words(json_object_get_string(sys), (size_t)json_object_get_string_len(sys));

    json_object *cfg = get(body, "generationConfig");
    json_object *max = get(cfg, "maxOutputTokens");
    int64_t max_tokens = 0;
    if (max) {
        max_tokens = json_object_get_int64(max);
        if (!json_object_is_type(max, json_type_int) || max_tokens < 1) {
            g_invalid(res, "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32)");
            return -1;
        }
    }
    const char *mime = get_str(cfg, "responseMimeType");
    int json_mode = mime && strcmp(mime, "application/json") == 0;

    const char *fn_name = NULL;
    json_object *tools = get(body, "tools");
    size_t ntools =
        tools && json_object_is_type(tools, json_type_array) ? json_object_array_length(tools) : 0;
    for (size_t i = 0; i < ntools && !fn_name; i++) {
        json_object *decls = get(json_object_array_get_idx(tools, i), "functionDeclarations");
        if (decls && json_object_is_type(decls, json_type_array) &&
            json_object_array_length(decls) > 0) {
            fn_name = get_str(json_object_array_get_idx(decls, 0), "name");
            if (!fn_name) {
                g_invalid(res, "* GenerateContentRequest.tools[0].function_declarations[0].name: "
                               "Name cannot be empty.\n");
                return -1;
            }
        }
    }

    sim_buf user_text = {0};
    size_t ignored = 0;
    sim_buf_puts(&user_text, "");
    if (last_user)
        parts_text(get(last_user, "parts"), &user_text, &ignored);

    a->model = model_of(req->path);
    a->blocked = strstr(a->model, "blocked") != NULL;
    a->unsafe = !a->blocked && strstr(a->model, "unsafe") != NULL;
    a->thinking = get(cfg, "thinkingConfig") != NULL;
    a->cached = has_key(body, "cachedContent");
    a->prompt_tokens = prompt;
    a->finish = a->unsafe ? "SAFETY" : "STOP";
    snprintf(a->response_id, sizeof(a->response_id), "sim-resp-%lu", ++response_seq);
    if (a->blocked || a->unsafe) {
        sim_buf_free(&user_text);
        return 0;
    }
    if (a->thinking)
        a->thought_tokens = 1; /* "thinking..." */
    if (fn_name && !last_is_fn_response) {
        a->fn_name = sim_xstrdup(fn_name);
        a->fn = json_object_new_object();
        json_object_object_add(a->fn, "text",
                               json_object_new_string_len(user_text.data, (int)user_text.len));
        size_t len;
        char *s = sim_json_dump(a->fn, &len);
        a->candidate_tokens = sim_count_words(s, len);
        free(s);
    } else {
        if (json_mode) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "echo",
                                   json_object_new_string_len(user_text.data, (int)user_text.len));
            a->text = sim_json_dump(o, NULL);
            json_object_put(o);
        } else {
            sim_buf t = {0};
            sim_buf_puts(&t, "echo: ");
            sim_buf_append(&t, user_text.data, user_text.len);
            a->text = sim_buf_take(&t, NULL);
        }
        size_t words = sim_count_words(a->text, strlen(a->text));
        if (max_tokens && words > (size_t)max_tokens) {
            /* cut after the max_tokens-th word */
            size_t seen = 0, i = 0, len = strlen(a->text);
            int in_word = 0;
            for (; i < len; i++) {
                int sp = isspace((unsigned char)a->text[i]);
                if (!sp && !in_word && seen++ == (size_t)max_tokens)
                    break;
                in_word = !sp;
            }
            while (i > 0 && isspace((unsigned char)a->text[i - 1]))
                i--;
            a->text[i] = '\0';
            words = (size_t)max_tokens;
            a->finish = "MAX_TOKENS";
        }
        a->candidate_tokens = words;
    }
    sim_buf_free(&user_text);
    return 0;
}

static json_object *usage_obj(const gen_answer *a) {
    json_object *u = json_object_new_object();
    json_object_object_add(u, "promptTokenCount", json_object_new_int64((int64_t)a->prompt_tokens));
    if (!a->blocked && !a->unsafe)
        json_object_object_add(u, "candidatesTokenCount",
                               json_object_new_int64((int64_t)a->candidate_tokens));
    json_object_object_add(u, "totalTokenCount",
                           json_object_new_int64((int64_t)(a->prompt_tokens + a->candidate_tokens +
                                                           a->thought_tokens)));
    if (a->cached)
        json_object_object_add(u, "cachedContentTokenCount",
                               json_object_new_int64((int64_t)(a->prompt_tokens / 2)));
    if (a->thinking && !a->blocked && !a->unsafe)
        json_object_object_add(u, "thoughtsTokenCount",
                               json_object_new_int64((int64_t)a->thought_tokens));
    return u;
}

static json_object *safety_ratings(int blocked) {
    json_object *arr = json_object_new_array();
    json_object *r = json_object_new_object();
    json_object_object_add(r, "category",
                           json_object_new_string("HARM_CATEGORY_DANGEROUS_CONTENT"));
    json_object_object_add(r, "probability", json_object_new_string("HIGH"));
    if (blocked)
        json_object_object_add(r, "blocked", json_object_new_boolean(1));
    json_object_array_add(arr, r);
    return arr;
}

/* One GenerateContentResponse: PARTS (taken; NULL for none) in candidate 0,
 * with FINISH and the usage when FINAL. */
static json_object *response_obj(const gen_answer *a, json_object *parts, int final) {
    json_object *o = json_object_new_object();
    if (a->blocked) {
        json_object *fb = json_object_new_object();
        json_object_object_add(fb, "blockReason", json_object_new_string("SAFETY"));
        json_object_object_add(fb, "safetyRatings", safety_ratings(1));
        json_object_object_add(o, "promptFeedback", fb);
    } else {
        json_object *cand = json_object_new_object();
        if (parts) {
            json_object *content = json_object_new_object();
            json_object_object_add(content, "role", json_object_new_string("model"));
            json_object_object_add(content, "parts", parts);
            json_object_object_add(cand, "content", content);
        }
        if (final)
            json_object_object_add(cand, "finishReason", json_object_new_string(a->finish));
        if (a->unsafe)
            json_object_object_add(cand, "safetyRatings", safety_ratings(1));
        json_object_object_add(cand, "index", json_object_new_int(0));
        json_object *cands = json_object_new_array();
        json_object_array_add(cands, cand);
        json_object_object_add(o, "candidates", cands);
    }
    if (final)
        json_object_object_add(o, "usageMetadata", usage_obj(a));
    json_object_object_add(o, "modelVersion", json_object_new_string(a->model));
    json_object_object_add(o, "responseId", json_object_new_string(a->response_id));
    return o;
}

static json_object *text_part(const char *text, size_t len, int thought) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "text", json_object_new_string_len(text, (int)len));
    if (thought)
        json_object_object_add(p, "thought", json_object_new_boolean(1));
    return p;
}

static json_object *fn_part(const gen_answer *a) {
    json_object *p = json_object_new_object();
    json_object *fc = json_object_new_object();
    json_object_object_add(fc, "name", json_object_new_string(a->fn_name));
    json_object_object_add(fc, "args", json_object_get(a->fn));
    json_object_object_add(p, "functionCall", fc);
    return p;
}

static void generate(const sim_request *req, sim_response *res) {
    gen_answer a;
    if (gen_prepare(req, res, &a) != 0) {
        answer_free(&a);
        return;
    }
    json_object *parts = NULL;
    if (!a.blocked && !a.unsafe) {
        parts = json_object_new_array();
        if (a.thinking)
            json_object_array_add(parts, text_part("thinking...", 11, 1));
        json_object_array_add(parts, a.text ? text_part(a.text, strlen(a.text), 0) : fn_part(&a));
    }
    json_object *o = response_obj(&a, parts, 1);
    g_json(req, res, o);
    json_object_put(o);
    answer_free(&a);
}

/* Splits S into pieces that each start at a word (leading whitespace kept
 * with the word that follows), so that the pieces concatenate back to S. */
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

/* Adds chunk OBJ as an event: "data: JSON\r\n\r\n" (SSE), or as an element
 * of the JSON array Google streams without alt=sse. */
static void add_chunk(sim_response *res, json_object *obj, int sse, int first, int last,
                      int broken) {
    size_t n;
    char *s = sim_json_dump(obj, &n);
    sim_buf ev = {0};
    sim_buf_puts(&ev, sse ? "data: " : first ? "[" : ",\r\n");
    sim_buf_append(&ev, s, broken ? n / 2 : n);
    sim_buf_puts(&ev, sse ? "\r\n\r\n" : last ? "]" : "");
    sim_res_event(res, ev.data, ev.len);
    sim_buf_free(&ev);
    free(s);
}

static void stream_generate(const sim_request *req, sim_response *res) {
    gen_answer a;
    if (gen_prepare(req, res, &a) != 0) {
        answer_free(&a);
        return;
    }
    char *alt = query_param(req, "alt");
    int sse = alt && strcmp(alt, "sse") == 0;
    free(alt);
    const sim_fault *f = &req->fault;

    /* The chunks: a thought, then one per word (or the function call). */
    json_object *chunks[512];
    size_t nchunks = 0;
    if (a.blocked || a.unsafe) {
        chunks[nchunks++] = response_obj(&a, NULL, 1);
    } else {
        if (a.thinking) {
            json_object *p = json_object_new_array();
            json_object_array_add(p, text_part("thinking...", 11, 1));
            chunks[nchunks++] = response_obj(&a, p, 0);
        }
        if (a.fn) {
            json_object *p = json_object_new_array();
            json_object_array_add(p, fn_part(&a));
            chunks[nchunks++] = response_obj(&a, p, 1);
        } else {
            size_t len = strlen(a.text), start = 0;
            do {
                size_t end = next_word_end(a.text, len, start);
                if (nchunks == sizeof(chunks) / sizeof(chunks[0]) - 1)
                    end = len; /* the rest in one chunk */
                json_object *p = json_object_new_array();
                json_object_array_add(p, text_part(a.text + start, end - start, 0));
                chunks[nchunks++] = response_obj(&a, p, end >= len);
                start = end;
            } while (start < len);
        }
    }
    if (f->drop_done) { /* no chunk carries finishReason (nor the usage) */
        json_object *last = chunks[nchunks - 1];
        json_object_object_del(last, "usageMetadata");
        json_object_object_del(json_object_array_get_idx(get(last, "candidates"), 0),
                               "finishReason");
    }

    sim_res_stream(res, 200, sse ? "text/event-stream" : "application/json; charset=UTF-8");
    for (size_t i = 0; i < nchunks; i++) {
        int error_now = f->error_event && i == 0;
        add_chunk(res, chunks[i], sse, i == 0, i + 1 == nchunks && !error_now,
                  f->malformed && i == 0);
        if (error_now) {
            static const char err[] = "{\"error\":{\"code\":500,\"message\":\"simulated mid-stream "
                                      "failure\",\"status\":\"INTERNAL\"}}";
            sim_buf ev = {0};
            sim_buf_puts(&ev, sse ? "data: " : ",\r\n");
            sim_buf_puts(&ev, err);
            sim_buf_puts(&ev, sse ? "\r\n\r\n" : "");
            sim_res_event(res, ev.data, ev.len);
            sim_buf_free(&ev);
            res->abort_after_events = 1;
            break;
        }
    }
    for (size_t i = 0; i < nchunks; i++)
        json_object_put(chunks[i]);
    answer_free(&a);
}

/* ---- embeddings ---- */

static uint64_t fnv1a(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
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

/* A unit-length vector of DIMS values determined by TEXT. */
static json_object *vector(const char *text, size_t len, size_t dims) {
    uint64_t seed = fnv1a(text, len);
    double *tmp = sim_xmalloc(dims * sizeof(double));
    double norm = 0;
    for (size_t i = 0; i < dims; i++) {
        tmp[i] = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        norm += tmp[i] * tmp[i];
    }
    norm = sqrt(norm);
    json_object *arr = json_object_new_array_ext((int)dims);
    for (size_t i = 0; i < dims; i++)
        json_object_array_add(arr, json_object_new_double((double)(float)(tmp[i] / norm)));
    free(tmp);
    return arr;
}

/* outputDimensionality in O (absent: the default). Returns 0, or -1 after
 * answering RES with an error. */
static int dimensions(json_object *o, const char *field, size_t *dims, sim_response *res) {
    json_object *d = get(o, field);
    *dims = G_DEFAULT_DIMENSIONS;
    if (!d)
        return 0;
    int64_t v = json_object_get_int64(d);
    if (!json_object_is_type(d, json_type_int) || v < 1 || v > G_MAX_DIMENSIONS) {
        g_invalid(res, "* EmbedContentRequest.output_dimensionality: Output dimensionality must "
                       "be between 1 and 8192.\n");
        return -1;
    }
    *dims = (size_t)v;
    return 0;
}

/* The embedding of one EmbedContentRequest O, or NULL after answering RES
 * with an error. */
static json_object *embed_one(json_object *o, sim_response *res) {
    json_object *content = get(o, "content");
    sim_buf text = {0};
    size_t words = 0;
    parts_text(get(content, "parts"), &text, &words);
    if (!text.len) {
        sim_buf_free(&text);
        g_invalid(res, "* EmbedContentRequest.content: contents is not specified\n");
        return NULL;
    }
    size_t dims;
    if (dimensions(o, "outputDimensionality", &dims, res) != 0) {
        sim_buf_free(&text);
        return NULL;
    }
    json_object *e = json_object_new_object();
    json_object_object_add(e, "values", vector(text.data, text.len, dims));
    sim_buf_free(&text);
    return e;
}

static void embed_content(const sim_request *req, sim_response *res) {
    if (!require_object(req, res))
        return;
    json_object *e = embed_one(req->json, res);
    if (!e)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "embedding", e);
    g_json(req, res, o);
    json_object_put(o);
}

static void batch_embed(const sim_request *req, sim_response *res) {
    if (!require_object(req, res))
        return;
    json_object *reqs = get(req->json, "requests");
    size_t n =
        reqs && json_object_is_type(reqs, json_type_array) ? json_object_array_length(reqs) : 0;
    if (n == 0) {
        g_invalid(res, "* BatchEmbedContentsRequest.requests: requests is not specified\n");
        return;
    }
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *e = embed_one(json_object_array_get_idx(reqs, i), res);
        if (!e) {
            json_object_put(arr);
            return;
        }
        json_object_array_add(arr, e);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "embeddings", arr);
    g_json(req, res, o);
    json_object_put(o);
}

/* ---- models ---- */

static const struct {
    const char *id, *display, *methods;
    int input_limit, output_limit;
} models_list[] = {
    {"gemini-2.0-flash", "Gemini 2.0 Flash", "generateContent,countTokens", 1048576, 8192},
    {"gemini-2.5-pro", "Gemini 2.5 Pro", "generateContent,countTokens", 1048576, 65536},
    {"text-embedding-004", "Text Embedding 004", "embedContent", 2048, 1},
};

static json_object *model_obj(size_t i) {
    char name[96];
    snprintf(name, sizeof(name), "models/%s", models_list[i].id);
    json_object *m = json_object_new_object();
    json_object_object_add(m, "name", json_object_new_string(name));
    json_object_object_add(m, "version", json_object_new_string("001"));
    json_object_object_add(m, "displayName", json_object_new_string(models_list[i].display));
    json_object_object_add(m, "inputTokenLimit", json_object_new_int(models_list[i].input_limit));
    json_object_object_add(m, "outputTokenLimit", json_object_new_int(models_list[i].output_limit));
    json_object *methods = json_object_new_array();
    const char *p = models_list[i].methods;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        json_object_array_add(methods, json_object_new_string_len(p, (int)(end - p)));
        p = *end ? end + 1 : end;
    }
    json_object_object_add(m, "supportedGenerationMethods", methods);
    return m;
}

static void models(const sim_request *req, sim_response *res) {
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < sizeof(models_list) / sizeof(models_list[0]); i++)
        json_object_array_add(arr, model_obj(i));
    json_object_object_add(o, "models", arr);
    g_json(req, res, o);
    json_object_put(o);
}

static void model_get(const sim_request *req, sim_response *res) {
    char *id = model_of(req->path);
    for (size_t i = 0; i < sizeof(models_list) / sizeof(models_list[0]); i++) {
        if (strcmp(models_list[i].id, id) == 0) {
            json_object *m = model_obj(i);
            g_json(req, res, m);
            json_object_put(m);
            free(id);
            return;
        }
    }
    char msg[512];
    snprintf(msg, sizeof(msg),
             "models/%.200s is not found for API version v1beta, or is not supported for "
             "generateContent. Call ListModels to see the list of available models and their "
             "supported methods.",
             id);
    free(id);
    g_error_full(res, 404, msg, NULL);
}

/* ---- Vertex AI ---- */

/* Vertex checks the token itself too: the router asks only with --api-key. */
static int vertex_check(const sim_request *req, sim_response *res) {
    if (sim_vertex_token_ok(req))
        return 1;
    vx_error(res, 401, NULL);
    return 0;
}

static void vx_generate(const sim_request *req, sim_response *res) {
    if (vertex_check(req, res))
        generate(req, res);
}

static void vx_stream_generate(const sim_request *req, sim_response *res) {
    if (vertex_check(req, res))
        stream_generate(req, res);
}

static void vx_predict(const sim_request *req, sim_response *res) {
    if (!vertex_check(req, res) || !require_object(req, res))
        return;
    json_object *instances = get(req->json, "instances");
    size_t n = instances && json_object_is_type(instances, json_type_array)
                   ? json_object_array_length(instances)
                   : 0;
    if (n == 0) {
        g_invalid(res, "Missing required field: instances");
        return;
    }
    size_t dims;
    if (dimensions(get(req->json, "parameters"), "outputDimensionality", &dims, res) != 0)
        return;
    json_object *preds = json_object_new_array();
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = get(json_object_array_get_idx(instances, i), "content");
        if (!c || !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0) {
            json_object_put(preds);
            g_invalid(res, "Invalid instance: `content` must be a non-empty string.");
            return;
        }
        const char *s = json_object_get_string(c);
        size_t len = (size_t)json_object_get_string_len(c);
        chars += len;
        json_object *stats = json_object_new_object();
        json_object_object_add(stats, "token_count",
                               json_object_new_int64((int64_t)sim_count_words(s, len)));
        json_object_object_add(stats, "truncated", json_object_new_boolean(0));
        json_object *emb = json_object_new_object();
        json_object_object_add(emb, "values", vector(s, len, dims));
        json_object_object_add(emb, "statistics", stats);
        json_object *p = json_object_new_object();
        json_object_object_add(p, "embeddings", emb);
        json_object_array_add(preds, p);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "predictions", preds);
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "billableCharacterCount", json_object_new_int64((int64_t)chars));
    json_object_object_add(o, "metadata", meta);
    g_json(req, res, o);
    json_object_put(o);
}

/* ---- registration ---- */

/* FNM_PATHNAME: '*' never crosses a '/', so none of these overlaps OpenAI's
 * /v1/chat/completions, /v1/models/ *, ... */
static const sim_route gemini_routes[] = {
    {"POST", "/gemini/v1*/models/*:generateContent", generate},
    {"POST", "/gemini/v1*/models/*:streamGenerateContent", stream_generate},
    {"POST", "/gemini/v1*/models/*:embedContent", embed_content},
    {"POST", "/gemini/v1*/models/*:batchEmbedContents", batch_embed},
    {"GET", "/gemini/v1*/models", models},
    {"GET", "/gemini/v1*/models/*", model_get},
};

static const sim_route vertex_routes[] = {
    {"POST", "/v1*/projects/*/locations/*/publishers/google/models/*:generateContent", vx_generate},
    {"POST", "/v1*/projects/*/locations/*/publishers/google/models/*:streamGenerateContent",
     vx_stream_generate},
    {"POST", "/v1*/projects/*/locations/*/publishers/google/models/*:predict", vx_predict},
};

static const sim_provider gemini_provider = {
    .name = "gemini",
    .prefix = "/gemini/",
    .routes = gemini_routes,
    .nroutes = sizeof(gemini_routes) / sizeof(gemini_routes[0]),
    .authorized = gem_authorized,
    .error = gem_error,
};

/* The prefix is longer than OpenAI's "/v1/", so unknown paths under
 * /v1/projects/ get Google-shaped 404s. */
static const sim_provider vertex_provider = {
    .name = "vertex",
    .prefix = "/v1/projects/",
    .routes = vertex_routes,
    .nroutes = sizeof(vertex_routes) / sizeof(vertex_routes[0]),
    .authorized = vx_authorized,
    .error = vx_error,
};

void sim_gemini_register(void) {
    sim_router_register(&gemini_provider);
    sim_router_register(&vertex_provider);
}
