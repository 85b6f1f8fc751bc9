/* SPDX-License-Identifier: Apache-2.0 */
/* The offline "mock" provider: answers in-process with no network, so the
 * CLI, budgets and bindings can be tried without a key. Model "echo" echoes
 * the last user message (streamed word by word), "embed" returns
 * deterministic embeddings. Usage counts whitespace-separated words. It is
 * reached only by an explicit "mock/" prefix, never for a real model name. */
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

#define MOCK_DEFAULT_DIMENSIONS 8
#define MOCK_MAX_DIMENSIONS 4096

static atomic_ullong mock_sequence;

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

static long long count_words(const char *s) {
    long long n = 0;
    int in_word = 0;
    for (; *s; s++) {
        int space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';
        if (!space && !in_word)
            n++;
        in_word = !space;
    }
    return n;
}

/* Appends the text of a message's "content": a string, or the "text" of
 * its text parts. */
static aigw_status content_text(json_object *message, aigw__buf *out) {
    json_object *content;
    if (!json_object_object_get_ex(message, "content", &content) || !content)
        return AIGW_OK;
    if (json_object_is_type(content, json_type_string))
        return aigw__buf_puts(out, json_object_get_string(content));
    if (!json_object_is_type(content, json_type_array))
        return AIGW_OK;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = aigw__json_get_string(part, "type");
        const char *text = aigw__json_get_string(part, "text");
        if (type && strcmp(type, "text") == 0 && text) {
            aigw_status st = (out->len ? aigw__buf_puts(out, " ") : AIGW_OK);
            if (st || (st = aigw__buf_puts(out, text)))
                return st;
        }
    }
    return AIGW_OK;
}

/* The answer (last user message) and the prompt's word count. */
static aigw_status echo_answer(aigw__call *call, aigw__buf *answer, long long *prompt_words,
                               aigw_error **err) {
    json_object *messages;
    json_object_object_get_ex(call->request, "messages", &messages);
    aigw__buf text = AIGW__BUF_INIT;
    json_object *last_user = NULL;
    *prompt_words = 0;
    for (size_t i = 0; i < json_object_array_length(messages); i++) {
        json_object *m = json_object_array_get_idx(messages, i);
        if (!json_object_is_type(m, json_type_object)) {
            aigw__buf_free(&text);
            return aigw__error_set(err, AIGW_EBADREQUEST, "request: messages[%zu] is not an object",
                                   i);
        }
        aigw__buf_clear(&text);
        if (content_text(m, &text)) {
            aigw__buf_free(&text);
            return oom(err);
        }
        *prompt_words += text.data ? count_words(text.data) : 0;
        const char *role = aigw__json_get_string(m, "role");
        if (role && strcmp(role, "user") == 0)
            last_user = m;
    }
    aigw__buf_free(&text);
    if (!last_user)
        return aigw__error_set(err, AIGW_EBADREQUEST, "mock/echo: the request has no user message");
    if (content_text(last_user, answer) || aigw__buf_reserve(answer, 0))
        return oom(err);
    return AIGW_OK;
}

static json_object *usage_object(long long prompt, long long completion) {
    json_object *u = json_object_new_object();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64(prompt));
    json_object_object_add(u, "completion_tokens", json_object_new_int64(completion));
    json_object_object_add(u, "total_tokens", json_object_new_int64(prompt + completion));
    return u;
}

static void set_usage(aigw__call *call, long long prompt, long long completion) {
    call->usage.input_tokens = prompt;
    call->usage.output_tokens = completion;
    call->usage.total_tokens = prompt + completion;
    call->usage.cached_input_tokens = 0;
    call->usage.reasoning_tokens = 0;
}

static json_object *envelope(const char *object, const char *id, long long created,
                             const char *model) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "object", json_object_new_string(object));
    json_object_object_add(o, "created", json_object_new_int64(created));
    json_object_object_add(o, "model", json_object_new_string(model));
    return o;
}

static aigw_status append_json(json_object *o, aigw__buf *out, aigw_error **err) {
    size_t len;
    const char *text = o ? json_object_to_json_string_length(o, AIGW__JSON_FLAGS, &len) : NULL;
    if (!text || aigw__buf_append(out, text, len))
        return oom(err);
    return AIGW_OK;
}

static aigw_status mock_chat(aigw__call *call, aigw__buf *out, aigw_error **err) {
    aigw__buf answer = AIGW__BUF_INIT;
    long long prompt_words;
    aigw_status st = echo_answer(call, &answer, &prompt_words, err);
    if (st)
        goto out;
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-mock-%llu", (unsigned long long)++mock_sequence);
    json_object *resp = envelope("chat.completion", id, (long long)time(NULL), "echo");
    json_object *choice = json_object_new_object(), *message = json_object_new_object();
    json_object *choices = json_object_new_array();
    json_object_object_add(message, "role", json_object_new_string("assistant"));
    json_object_object_add(message, "content", json_object_new_string(answer.data));
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", message);
    json_object_object_add(choice, "finish_reason", json_object_new_string("stop"));
    json_object_array_add(choices, choice);
    json_object_object_add(resp, "choices", choices);
    long long completion = count_words(answer.data);
    json_object_object_add(resp, "usage", usage_object(prompt_words, completion));
    set_usage(call, prompt_words, completion);
    st = append_json(resp, out, err);
    json_object_put(resp);
out:
    aigw__buf_free(&answer);
    return st;
}

/* One chunk: delta {role?, content?} and finish_reason, or usage alone. */
static aigw_status send_chunk(const aigw__chunk_sink *sink, const char *id, long long created,
                              const char *role, const char *content, size_t content_len,
                              const char *finish, json_object *usage, aigw__buf *scratch,
                              aigw_error **err) {
    json_object *chunk = envelope("chat.completion.chunk", id, created, "echo");
    json_object *choices = json_object_new_array();
    if (!usage) {
        json_object *choice = json_object_new_object(), *delta = json_object_new_object();
        if (role)
            json_object_object_add(delta, "role", json_object_new_string(role));
        if (content)
            json_object_object_add(delta, "content",
                                   json_object_new_string_len(content, (int)content_len));
        json_object_object_add(choice, "index", json_object_new_int(0));
        json_object_object_add(choice, "delta", delta);
        json_object_object_add(choice, "finish_reason",
                               finish ? json_object_new_string(finish) : NULL);
        json_object_array_add(choices, choice);
    }
    json_object_object_add(chunk, "choices", choices);
    if (usage)
        json_object_object_add(chunk, "usage", usage);
    aigw__buf_clear(scratch);
    aigw_status st = append_json(chunk, scratch, err);
    json_object_put(chunk);
    if (st)
        return st;
    if (sink->on_chunk(scratch->data, scratch->len, sink->user))
        return aigw__error_set(err, AIGW_ESTOPPED, "stream stopped by the callback");
    return AIGW_OK;
}

static aigw_status mock_chat_stream(aigw__call *call, const aigw__chunk_sink *sink,
                                    aigw_error **err) {
    aigw__buf answer = AIGW__BUF_INIT, scratch = AIGW__BUF_INIT;
    long long prompt_words;
    aigw_status st = echo_answer(call, &answer, &prompt_words, err);
    if (st)
        goto out;
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-mock-%llu", (unsigned long long)++mock_sequence);
    long long created = (long long)time(NULL);
    if ((st = send_chunk(sink, id, created, "assistant", "", 0, NULL, NULL, &scratch, err)))
        goto out;
    /* Word by word: each piece is leading whitespace plus one word. */
    const char *p = answer.data;
    while (*p) {
        const char *start = p;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        while (*p && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if ((st = send_chunk(sink, id, created, NULL, start, (size_t)(p - start), NULL, NULL,
                             &scratch, err)))
            goto out;
    }
    if ((st = send_chunk(sink, id, created, NULL, NULL, 0, "stop", NULL, &scratch, err)))
        goto out;
    long long completion = count_words(answer.data);
    set_usage(call, prompt_words, completion);
    if (call->caller_wants_usage)
        st = send_chunk(sink, id, created, NULL, NULL, 0, NULL,
                        usage_object(prompt_words, completion), &scratch, err);
out:
    aigw__buf_free(&answer);
    aigw__buf_free(&scratch);
    return st;
}

/* A deterministic unit vector from the text: FNV-1a seeds xorshift. */
static void embed_vector(const char *text, size_t len, float *v, int dims) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    double norm = 0;
    for (int i = 0; i < dims; i++) {
        h ^= h << 13, h ^= h >> 7, h ^= h << 17;
        v[i] = (float)((double)(h >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
        norm += (double)v[i] * v[i];
    }
    float scale = norm > 0 ? (float)(1.0 / sqrt(norm)) : 1.0f;
    for (int i = 0; i < dims; i++)
        v[i] *= scale;
}

static json_object *embedding_value(const float *v, int dims, int base64) {
    if (!base64) {
        json_object *arr = json_object_new_array_ext(dims);
        for (int i = 0; i < dims; i++)
            json_object_array_add(arr, json_object_new_double(v[i]));
        return arr;
    }
    unsigned char raw[MOCK_MAX_DIMENSIONS * 4];
    for (int i = 0; i < dims; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        for (int b = 0; b < 4; b++)
            raw[i * 4 + b] = (unsigned char)(bits >> (8 * b)); /* little-endian float32 */
    }
    char *text = aigw__malloc(((size_t)dims * 4 + 2) / 3 * 4 + 1);
    if (!text)
        return NULL;
    EVP_EncodeBlock((unsigned char *)text, raw, dims * 4);
    json_object *s = json_object_new_string(text);
    aigw__free(text);
    return s;
}

static aigw_status mock_embed(aigw__call *call, aigw__buf *out, aigw_error **err) {
    json_object *input, *v;
    json_object_object_get_ex(call->request, "input", &input);
    int dims = MOCK_DEFAULT_DIMENSIONS, base64 = 0;
    if (json_object_object_get_ex(call->request, "dimensions", &v)) {
        int64_t d = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || d < 1 || d > MOCK_MAX_DIMENSIONS)
            return aigw__error_set(err, AIGW_EBADREQUEST,
                                   "request: \"dimensions\" must be an integer from 1 to %d",
                                   MOCK_MAX_DIMENSIONS);
        dims = (int)d;
    }
    const char *format = aigw__json_get_string(call->request, "encoding_format");
    if (format && strcmp(format, "base64") == 0)
        base64 = 1;
    else if (format && strcmp(format, "float") != 0)
        return aigw__error_set(err, AIGW_EBADREQUEST,
                               "request: \"encoding_format\" must be \"float\" or \"base64\"");
    int single = json_object_is_type(input, json_type_string);
    if (!single && !json_object_is_type(input, json_type_array))
        return aigw__error_set(err, AIGW_EBADREQUEST,
                               "request: \"input\" must be a string or an array of strings");
    size_t n = single ? 1 : json_object_array_length(input);
    if (n == 0)
        return aigw__error_set(err, AIGW_EBADREQUEST, "request: \"input\" is empty");
    float *vec = aigw__calloc((size_t)dims, sizeof *vec);
    json_object *resp = json_object_new_object(), *data = json_object_new_array();
    aigw_status st = AIGW_OK;
    long long words = 0;
    if (!vec || !resp || !data) {
        json_object_put(data);
        st = oom(err);
        goto out;
    }
    json_object_object_add(resp, "object", json_object_new_string("list"));
    json_object_object_add(resp, "data", data);
    for (size_t i = 0; i < n; i++) {
        json_object *item = single ? input : json_object_array_get_idx(input, i);
        if (!json_object_is_type(item, json_type_string)) {
            st = aigw__error_set(err, AIGW_EBADREQUEST, "request: input[%zu] must be a string", i);
            goto out;
        }
        const char *text = json_object_get_string(item);
        words += count_words(text);
        embed_vector(text, (size_t)json_object_get_string_len(item), vec, dims);
        json_object *e = json_object_new_object(), *value = embedding_value(vec, dims, base64);
        if (!e || !value) {
            json_object_put(e);
            json_object_put(value);
            st = oom(err);
            goto out;
        }
        json_object_object_add(e, "object", json_object_new_string("embedding"));
        json_object_object_add(e, "index", json_object_new_int((int)i));
        json_object_object_add(e, "embedding", value);
        json_object_array_add(data, e);
    }
    json_object_object_add(resp, "model", json_object_new_string(call->model));
    json_object *usage = json_object_new_object();
    json_object_object_add(usage, "prompt_tokens", json_object_new_int64(words));
    json_object_object_add(usage, "total_tokens", json_object_new_int64(words));
    json_object_object_add(resp, "usage", usage);
    set_usage(call, words, 0);
    st = append_json(resp, out, err);
out:
    aigw__free(vec);
    json_object_put(resp);
    return st;
}

static aigw_status mock_models(aigw__call *call, aigw__buf *out, aigw_error **err) {
    static const char *const ids[] = {"echo", "embed"};
    char id[256];
    json_object *resp = json_object_new_object(), *data = json_object_new_array();
    json_object_object_add(resp, "object", json_object_new_string("list"));
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_object *m = json_object_new_object();
        snprintf(id, sizeof id, "%s/%s", call->backend->name, ids[i]);
        json_object_object_add(m, "id", json_object_new_string(id));
        json_object_object_add(m, "object", json_object_new_string("model"));
        json_object_object_add(m, "created", json_object_new_int64(0));
        json_object_object_add(m, "owned_by", json_object_new_string("libaigw"));
        json_object_array_add(data, m);
    }
    json_object_object_add(resp, "data", data);
    aigw_status st = append_json(resp, out, err);
    json_object_put(resp);
    return st;
}

static aigw_status mock_local(aigw__call *call, const aigw__chunk_sink *sink, aigw__buf *out,
                              aigw_error **err) {
    const char *want = call->op == AIGW__OP_EMBED ? "embed" : "echo";
    if (call->op != AIGW__OP_MODELS && strcmp(call->model, want) != 0)
        return aigw__error_set_upstream(err, AIGW_ENOTFOUND, call->backend->name, 404, NULL, 0,
                                        "the mock provider has no %s model \"%s\" (use mock/%s)",
                                        call->op == AIGW__OP_EMBED ? "embedding" : "chat",
                                        call->model, want);
    switch (call->op) {
    case AIGW__OP_CHAT:
        return mock_chat(call, out, err);
    case AIGW__OP_CHAT_STREAM:
        return mock_chat_stream(call, sink, err);
    case AIGW__OP_EMBED:
        return mock_embed(call, out, err);
    case AIGW__OP_MODELS:
        return mock_models(call, out, err);
    }
    return aigw__error_set(err, AIGW_EINTERNAL, "mock: unknown operation");
}

const aigw__adapter aigw__adapter_mock = {
    .schema = "mock",
    .local = mock_local,
};
