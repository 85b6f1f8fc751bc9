/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI wire format (chat completions, embeddings, models), from
 * OpenAI's public API reference. Answers are deterministic: chat echoes the
 * last user message, embeddings are derived from a hash of each input. */
#include "sim_openai.h"
#include "sim_router.h"
#include "sim_tokens.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define OA_MAX_DIMENSIONS 8192
#define OA_MAX_INPUTS 2048

static unsigned long chat_seq;

/* ---- errors ---- */

static void oa_error_full(sim_response *res, int status, const char *message, const char *type,
                          const char *param, const char *code) {
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "param", param ? json_object_new_string(param) : NULL);
    json_object_object_add(e, "code", code ? json_object_new_string(code) : NULL);
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void oa_invalid(sim_response *res, const char *message, const char *param,
                       const char *code) {
    oa_error_full(res, 400, message, "invalid_request_error", param, code);
}

void sim_openai_error(sim_response *res, int status, const char *message) {
    char buf[96];
    const char *type = "invalid_request_error", *code = NULL;
    switch (status) {
    case 401:
        type = "invalid_request_error";
        code = "invalid_api_key";
        if (!message)
            message = "Incorrect API key provided.";
        break;
    case 403:
        code = "unsupported_country_region_territory";
        break;
    case 404:
        if (!message) {
            code = "model_not_found";
            message = "The model does not exist or you do not have access to it.";
        }
        break;
    case 429:
        type = "requests";
        code = "rate_limit_exceeded";
        if (!message)
            message = "Rate limit reached (simulated).";
        break;
    default:
        if (status >= 500) {
            type = "server_error";
            if (!message)
                message = "The server had an error while processing your request (simulated).";
        }
        break;
    }
    if (!message) {
        snprintf(buf, sizeof(buf), "Simulated error (HTTP %d).", status);
        message = buf;
    }
    oa_error_full(res, status, message, type, NULL, code);
}

static int oa_authorized(const sim_request *req, const char *api_key) {
    const char *h = sim_request_header(req, "authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    /* or a token one of the simulator's token endpoints issued (OIDC in
     * front of an OpenAI-compatible server) */
    return strcmp(h + 7, api_key) == 0 || sim_token_valid(h + 7, NULL);
}

/* A 200 JSON answer, or (fault malformed=1) a body that is not JSON. */
static void oa_json(const sim_request *req, sim_response *res, json_object *obj) {
    if (req->fault.malformed) {
        static const char bad[] = "{\"id\": \"sim-malformed\", \"object\": <this is not JSON";
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

static int require_object(const sim_request *req, sim_response *res) {
    if (req->json && json_object_is_type(req->json, json_type_object))
        return 1;
    oa_invalid(res,
               "We could not parse the JSON body of your request. (HINT: This likely means you "
               "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
               "but what was sent was not valid JSON.)",
               NULL, NULL);
    return 0;
}

/* ---- chat completions ---- */

/* Appends the text of a message's content (string, or the text parts of an
 * array) to OUT, and adds its words to *WORDS. */
static void content_text(json_object *content, sim_buf *out, size_t *words) {
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
            json_object *part = json_object_array_get_idx(content, i);
            json_object *text = get(part, "text");
            const char *type = get_str(part, "type");
            if (text && json_object_is_type(text, json_type_string) &&
                (!type || strcmp(type, "text") == 0))
                content_text(text, out, words);
        }
    }
}

typedef struct chat_answer {
    char *content;   /* the echo, or NULL for a tool call */
    char *tool_name; /* the tool call's function name */
    char *arguments; /* its JSON-encoded arguments */
    char call_id[32];
    char id[40];
    const char *model;
    int64_t created;
    size_t prompt_tokens, completion_tokens;
} chat_answer;

static void answer_free(chat_answer *a) {
    free(a->content);
    free(a->tool_name);
    free(a->arguments);
}

static json_object *usage_obj(size_t prompt, size_t completion) {
    json_object *u = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64((int64_t)prompt));
    json_object_object_add(u, "completion_tokens", json_object_new_int64((int64_t)completion));
    json_object_object_add(u, "total_tokens",
                           json_object_new_int64((int64_t)(prompt + completion)));
    return u;
}

static json_object *tool_call_obj(const chat_answer *a, const char *arguments, int with_index) {
    json_object *tc = json_object_new_object();
    json_object *fn = json_object_new_object();
    if (with_index)
        json_object_object_add(tc, "index", json_object_new_int(0));
    if (a) {
        json_object_object_add(tc, "id", json_object_new_string(a->call_id));
        json_object_object_add(tc, "type", json_object_new_string("function"));
        json_object_object_add(fn, "name", json_object_new_string(a->tool_name));
    }
    json_object_object_add(fn, "arguments", json_object_new_string(arguments));
    json_object_object_add(tc, "function", fn);
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, tc);
    return arr;
}

static json_object *chunk_obj(const chat_answer *a, json_object *delta, const char *finish) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(a->id));
    json_object_object_add(o, "object", json_object_new_string("chat.completion.chunk"));
    json_object_object_add(o, "created", json_object_new_int64(a->created));
    json_object_object_add(o, "model", json_object_new_string(a->model));
    json_object *choices = json_object_new_array();
    if (delta) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "index", json_object_new_int(0));
        json_object_object_add(c, "delta", delta);
        json_object_object_add(c, "finish_reason", finish ? json_object_new_string(finish) : NULL);
        json_object_array_add(choices, c);
    }
    json_object_object_add(o, "choices", choices);
    return o;
}

static void add_data_event(sim_response *res, json_object *obj, int broken) {
    size_t n;
    char *s = sim_json_dump(obj, &n);
    sim_buf ev = {0};
    sim_buf_puts(&ev, "data: ");
    sim_buf_append(&ev, s, broken ? n / 2 : n);
    sim_buf_puts(&ev, "\n\n");
    sim_res_event(res, ev.data, ev.len);
    sim_buf_free(&ev);
    free(s);
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
    return j == len ? len : i; /* trailing whitespace stays with the last word */
}

/* Splits arguments into fragments of about 8 bytes, at UTF-8 boundaries. */
static size_t next_fragment_end(const char *s, size_t len, size_t start) {
    size_t i = start + 8;
    if (i >= len)
        return len;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

static void chat_stream(const sim_request *req, sim_response *res, const chat_answer *a,
                        int include_usage) {
    const sim_fault *f = &req->fault;
    sim_res_stream(res, 200, "text/event-stream; charset=utf-8");
    size_t nevents = 0;
    const char *text = a->content ? a->content : a->arguments;
    size_t len = strlen(text);
    size_t start = 0;
    do {
        size_t end =
            a->content ? next_word_end(text, len, start) : next_fragment_end(text, len, start);
        int last = end >= len;
        char *piece = sim_xstrndup(text + start, end - start);
        json_object *delta = json_object_new_object();
        if (a->content) {
            if (nevents == 0)
                json_object_object_add(delta, "role", json_object_new_string("assistant"));
            json_object_object_add(delta, "content", json_object_new_string(piece));
            if (nevents == 0)
                json_object_object_add(delta, "refusal", NULL);
        } else if (nevents == 0) {
            /* OpenAI opens a tool call with its id, type and name, arguments empty */
            json_object_object_add(delta, "role", json_object_new_string("assistant"));
            json_object_object_add(delta, "content", NULL);
            json_object_object_add(delta, "tool_calls", tool_call_obj(a, "", 1));
            json_object *open = chunk_obj(a, delta, NULL);
            add_data_event(res, open, f->malformed);
            json_object_put(open);
            nevents++;
            delta = json_object_new_object();
            json_object_object_add(delta, "tool_calls", tool_call_obj(NULL, piece, 1));
        } else {
            json_object_object_add(delta, "tool_calls", tool_call_obj(NULL, piece, 1));
        }
        free(piece);
        json_object *chunk =
            chunk_obj(a, delta, last ? (a->content ? "stop" : "tool_calls") : NULL);
        add_data_event(res, chunk, f->malformed && nevents == 0);
        json_object_put(chunk);
        nevents++;
        if (f->error_event) { /* after the first chunk */
            static const char ev[] = "data: {\"error\":{\"message\":\"simulated mid-stream "
                                     "failure\",\"type\":\"server_error\",\"code\":null}}\n\n";
            sim_res_event(res, ev, sizeof(ev) - 1);
            res->abort_after_events = 1;
            return;
        }
        start = end;
    } while (start < len);
    if (include_usage) {
        json_object *chunk = chunk_obj(a, NULL, NULL);
        json_object_object_add(chunk, "usage", usage_obj(a->prompt_tokens, a->completion_tokens));
        add_data_event(res, chunk, 0);
        json_object_put(chunk);
    }
    if (!f->drop_done)
        sim_res_event(res, "data: [DONE]\n\n", 14);
}

void sim_openai_chat_completions(const sim_request *req, sim_response *res) {
    if (!require_object(req, res))
        return;
    json_object *body = req->json;
    const char *model = get_str(body, "model");
    if (!model) {
        oa_invalid(res, "you must provide a model parameter", NULL, NULL);
        return;
    }
    json_object *messages = get(body, "messages");
    if (!messages) {
        oa_invalid(res, "Missing required parameter: 'messages'.", "messages",
                   "missing_required_parameter");
        return;
    }
    if (!json_object_is_type(messages, json_type_array)) {
        oa_invalid(res, "Invalid type for 'messages': expected an array.", "messages",
                   "invalid_type");
        return;
    }
    size_t nmsg = json_object_array_length(messages);
    if (nmsg == 0) {
        oa_invalid(res,
                   "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                   "but got an empty array instead.",
                   "messages", "empty_array");
        return;
    }
    chat_answer a;
    memset(&a, 0, sizeof(a));
    json_object *last_user = NULL;
    for (size_t i = 0; i < nmsg; i++) {
        json_object *m = json_object_array_get_idx(messages, i);
        const char *role = get_str(m, "role");
        if (!m || !json_object_is_type(m, json_type_object) || !role) {
            char msg[96];
            snprintf(msg, sizeof(msg), "Missing required parameter: 'messages[%zu].role'.", i);
            oa_invalid(res, msg, "messages", "missing_required_parameter");
            return;
        }
        content_text(get(m, "content"), NULL, &a.prompt_tokens);
        if (strcmp(role, "user") == 0)
            last_user = m;
    }
    sim_buf user_text = {0};
    size_t ignored = 0;
    if (last_user)
        content_text(get(last_user, "content"), &user_text, &ignored);

    a.model = model;
    a.created = (int64_t)time(NULL);
    snprintf(a.id, sizeof(a.id), "chatcmpl-sim-%lu", ++chat_seq);
    snprintf(a.call_id, sizeof(a.call_id), "call_sim_%lu", chat_seq);
    json_object *tools = get(body, "tools");
    const char *tool_name = NULL;
    if (tools && json_object_is_type(tools, json_type_array) &&
        json_object_array_length(tools) > 0) {
        tool_name = get_str(get(json_object_array_get_idx(tools, 0), "function"), "name");
        if (!tool_name) {
            sim_buf_free(&user_text);
            oa_invalid(res, "Missing required parameter: 'tools[0].function.name'.",
                       "tools[0].function.name", "missing_required_parameter");
            return;
        }
    }
    if (tool_name) {
        json_object *args = json_object_new_object();
        json_object_object_add(
            args, "text",
            json_object_new_string_len(user_text.data ? user_text.data : "", (int)user_text.len));
        a.arguments = sim_json_dump(args, NULL);
        json_object_put(args);
        a.tool_name = sim_xstrdup(tool_name);
        a.completion_tokens = sim_count_words(a.arguments, strlen(a.arguments));
    } else {
        sim_buf c = {0};
        sim_buf_puts(&c, "echo: ");
        if (user_text.len)
            sim_buf_append(&c, user_text.data, user_text.len);
        a.content = sim_buf_take(&c, NULL);
        a.completion_tokens = sim_count_words(a.content, strlen(a.content));
    }
    sim_buf_free(&user_text);

    json_object *stream = get(body, "stream");
    if (stream && json_object_get_boolean(stream)) {
        json_object *inc = get(get(body, "stream_options"), "include_usage");
        chat_stream(req, res, &a, inc && json_object_get_boolean(inc));
        answer_free(&a);
        return;
    }

    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(a.id));
    json_object_object_add(o, "object", json_object_new_string("chat.completion"));
    json_object_object_add(o, "created", json_object_new_int64(a.created));
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "role", json_object_new_string("assistant"));
    if (a.content) {
        json_object_object_add(msg, "content", json_object_new_string(a.content));
    } else {
        json_object_object_add(msg, "content", NULL);
        json_object *tc = tool_call_obj(&a, a.arguments, 0);
        json_object_object_add(msg, "tool_calls", tc);
    }
    json_object_object_add(msg, "refusal", NULL);
    json_object *choice = json_object_new_object();
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", msg);
    json_object_object_add(choice, "logprobs", NULL);
    json_object_object_add(choice, "finish_reason",
                           json_object_new_string(a.content ? "stop" : "tool_calls"));
    json_object *choices = json_object_new_array();
    json_object_array_add(choices, choice);
    json_object_object_add(o, "choices", choices);
    json_object_object_add(o, "usage", usage_obj(a.prompt_tokens, a.completion_tokens));
    oa_json(req, res, o);
    json_object_put(o);
    answer_free(&a);
}

/* ---- embeddings ---- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
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

/* A unit-length vector determined by SEED. */
static void make_vector(uint64_t seed, float *v, size_t dims) {
    double norm = 0;
    double *tmp = sim_xmalloc(dims * sizeof(double));
    for (size_t i = 0; i < dims; i++) {
        tmp[i] = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        norm += tmp[i] * tmp[i];
    }
    norm = sqrt(norm);
    for (size_t i = 0; i < dims; i++)
        v[i] = (float)(norm > 0 ? tmp[i] / norm : 0);
    free(tmp);
}

typedef struct embed_input {
    uint64_t hash;
    size_t tokens;
} embed_input;

/* Token array: all integers. Returns 1 and fills IN, 0 if not a token array. */
static int token_array(json_object *arr, embed_input *in) {
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return 0;
    uint64_t h = fnv1a(14695981039346656037ull, "tokens:", 7);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(t, json_type_int))
            return 0;
        int64_t v = json_object_get_int64(t);
        unsigned char b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (unsigned char)((uint64_t)v >> (8 * k));
        h = fnv1a(h, b, 8);
    }
    in->hash = h;
    in->tokens = n;
    return 1;
}

static int string_input(json_object *s, embed_input *in) {
    if (!json_object_is_type(s, json_type_string) || json_object_get_string_len(s) == 0)
        return 0;
    size_t n = (size_t)json_object_get_string_len(s);
    in->hash = fnv1a(14695981039346656037ull, json_object_get_string(s), n);
    in->tokens = sim_count_words(json_object_get_string(s), n);
    return 1;
}

void sim_openai_embeddings(const sim_request *req, sim_response *res) {
    static const char bad_input[] = "'$.input' is invalid. Please check the API reference: "
                                    "https://platform.openai.com/docs/api-reference.";
    if (!require_object(req, res))
        return;
    json_object *body = req->json;
    const char *model = get_str(body, "model");
    if (!model) {
        oa_invalid(res, "you must provide a model parameter", NULL, NULL);
        return;
    }
    json_object *input = get(body, "input");
    if (!input) {
        oa_invalid(res, "Missing required parameter: 'input'.", "input",
                   "missing_required_parameter");
        return;
    }
    size_t dims = 8;
    json_object *d = get(body, "dimensions");
    if (d) {
        int64_t v = json_object_get_int64(d);
        if (!json_object_is_type(d, json_type_int) || v < 1 || v > OA_MAX_DIMENSIONS) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%lld is not a valid value for 'dimensions'", (long long)v);
            oa_invalid(res, msg, "dimensions", NULL);
            return;
        }
        dims = (size_t)v;
    }
    int base64 = 0;
    json_object *fmt = get(body, "encoding_format");
    if (fmt) {
        const char *s =
            json_object_is_type(fmt, json_type_string) ? json_object_get_string(fmt) : "";
        if (strcmp(s, "base64") == 0) {
            base64 = 1;
        } else if (strcmp(s, "float") != 0) {
            oa_invalid(res,
                       "Invalid value for 'encoding_format': expected one of 'float' or 'base64'.",
                       "encoding_format", "invalid_value");
            return;
        }
    }

    embed_input *ins = NULL;
    size_t nin = 0;
    if (json_object_is_type(input, json_type_string)) {
        ins = sim_xcalloc(1, sizeof(*ins));
        nin = string_input(input, &ins[0]);
    } else if (json_object_is_type(input, json_type_array)) {
        size_t n = json_object_array_length(input);
        if (n > 0 && n <= OA_MAX_INPUTS) {
            ins = sim_xcalloc(n, sizeof(*ins));
            json_object *first = json_object_array_get_idx(input, 0);
            if (json_object_is_type(first, json_type_int)) {
                nin = token_array(input, &ins[0]);
            } else {
                for (nin = 0; nin < n; nin++) {
                    json_object *it = json_object_array_get_idx(input, nin);
                    int ok = json_object_is_type(it, json_type_array) ? token_array(it, &ins[nin])
                                                                      : string_input(it, &ins[nin]);
                    if (!ok) {
                        nin = 0;
                        break;
                    }
                }
            }
        }
    }
    if (nin == 0) {
        free(ins);
        oa_invalid(res, bad_input, NULL, NULL);
        return;
    }

    size_t tokens = 0;
    float *vec = sim_xmalloc(dims * sizeof(float));
    unsigned char *raw = sim_xmalloc(dims * 4);
    char *b64 = sim_xmalloc(4 * ((dims * 4 + 2) / 3) + 1);
    json_object *data = json_object_new_array();
    for (size_t i = 0; i < nin; i++) {
        tokens += ins[i].tokens;
        make_vector(ins[i].hash, vec, dims);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "object", json_object_new_string("embedding"));
        json_object_object_add(e, "index", json_object_new_int64((int64_t)i));
        if (base64) {
            for (size_t k = 0; k < dims; k++) {
                uint32_t bits;
                memcpy(&bits, &vec[k], 4);
                for (int b = 0; b < 4; b++)
                    raw[4 * k + (size_t)b] = (unsigned char)(bits >> (8 * b)); /* little-endian */
            }
            int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)(dims * 4));
            json_object_object_add(e, "embedding", json_object_new_string_len(b64, n));
        } else {
            json_object *arr = json_object_new_array_ext((int)dims);
            for (size_t k = 0; k < dims; k++)
                json_object_array_add(arr, json_object_new_double((double)vec[k]));
            json_object_object_add(e, "embedding", arr);
        }
        json_object_array_add(data, e);
    }
    free(vec);
    free(raw);
    free(b64);
    free(ins);

    json_object *o = json_object_new_object();
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", data);
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object *u = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64((int64_t)tokens));
    json_object_object_add(u, "total_tokens", json_object_new_int64((int64_t)tokens));
    json_object_object_add(o, "usage", u);
    oa_json(req, res, o);
    json_object_put(o);
    sim_res_gzip_if_asked(req, res); /* embeddings answers are large: compressed when asked */
}

/* ---- models ---- */

static const struct {
    const char *id;
    int64_t created;
} models_list[] = {
    {"gpt-4o-mini", 1721172741},
    {"gpt-4o", 1715367049},
    {"text-embedding-3-small", 1705948997},
};

static json_object *model_obj(size_t i) {
    json_object *m = json_object_new_object();
    json_object_object_add(m, "id", json_object_new_string(models_list[i].id));
    json_object_object_add(m, "object", json_object_new_string("model"));
    json_object_object_add(m, "created", json_object_new_int64(models_list[i].created));
    json_object_object_add(m, "owned_by", json_object_new_string("system"));
    return m;
}

void sim_openai_models(const sim_request *req, sim_response *res) {
    json_object *o = json_object_new_object();
    json_object *data = json_object_new_array();
    for (size_t i = 0; i < sizeof(models_list) / sizeof(models_list[0]); i++)
        json_object_array_add(data, model_obj(i));
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", data);
    oa_json(req, res, o);
    json_object_put(o);
}

static void model_get(const sim_request *req, sim_response *res) {
    const char *id = req->path + strlen("/v1/models/");
    for (size_t i = 0; i < sizeof(models_list) / sizeof(models_list[0]); i++) {
        if (strcmp(models_list[i].id, id) == 0) {
            json_object *m = model_obj(i);
            oa_json(req, res, m);
            json_object_put(m);
            return;
        }
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "The model '%.200s' does not exist", id);
    oa_error_full(res, 404, msg, "invalid_request_error", "model", "model_not_found");
}

static const sim_route openai_routes[] = {
    {"POST", "/v1/chat/completions", sim_openai_chat_completions},
    {"POST", "/v1/embeddings", sim_openai_embeddings},
    {"GET", "/v1/models", sim_openai_models},
    {"GET", "/v1/models/*", model_get},
};

static const sim_provider openai_provider = {
    .name = "openai",
    .prefix = "/v1/",
    .routes = openai_routes,
    .nroutes = sizeof(openai_routes) / sizeof(openai_routes[0]),
    .authorized = oa_authorized,
    .error = sim_openai_error,
};

void sim_openai_register(void) {
    sim_router_register(&openai_provider);
}
