/* SPDX-License-Identifier: Apache-2.0 */
/* The azure-openai schema: Azure OpenAI's deployment URLs,
 *   {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V
 * (and /embeddings; model lists at {endpoint}/openai/models?api-version=V),
 * an `api-key` header, and otherwise the OpenAI wire format: the request,
 * the answer, errors and streams are translated exactly as for openai. The
 * model after "azure/" is the deployment name. */
#include <curl/curl.h>

#include "adapters/adapter.h"
#include "adapters/openai_shape.h"
#include "core/buf.h"
#include "core/errors.h"

static aigw_status azure_build(aigw__call *call, aigw__upstream_request *out, aigw_error **err) {
    const aigw__backend *b = call->backend;
    aigw__buf prefix = AIGW__BUF_INIT, suffix = AIGW__BUF_INIT;
    aigw_status st = AIGW_OK;
    char *deployment = NULL;
    if (call->op != AIGW__OP_MODELS && !(deployment = curl_easy_escape(NULL, call->model, 0))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    if (aigw__buf_puts(&prefix, b->base_url) || aigw__buf_puts(&prefix, "/openai") ||
        (deployment &&
         (aigw__buf_puts(&prefix, "/deployments/") || aigw__buf_puts(&prefix, deployment))) ||
        aigw__buf_printf(&suffix, "?api-version=%s", b->api_version)) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    st = aigw__openai_build_at(call, prefix.data, suffix.data, out, err);
out:
    curl_free(deployment);
    aigw__buf_free(&prefix);
    aigw__buf_free(&suffix);
    return st;
}

/* The rest is OpenAI's own translation. */
static aigw_status azure_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                               aigw_error **err) {
    return aigw__adapter_openai.parse(call, body, len, out, err);
}

static aigw_status azure_error(aigw__call *call, long http_status, const char *body, size_t len,
                               aigw_error **err) {
    return aigw__adapter_openai.error(call, http_status, body, len, err);
}

static aigw_status azure_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                     aigw_error **err) {
    return aigw__adapter_openai.stream_open(call, sink, state, err);
}

static aigw_status azure_stream_feed(void *state, const char *bytes, size_t len, aigw_error **err) {
    return aigw__adapter_openai.stream_feed(state, bytes, len, err);
}

static aigw_status azure_stream_finish(void *state, aigw_error **err) {
    return aigw__adapter_openai.stream_finish(state, err);
}

static void azure_stream_free(void *state) {
    aigw__adapter_openai.stream_free(state);
}

const aigw__adapter aigw__adapter_azure_openai = {
    .schema = "azure-openai",
    .key_header = AIGW__KEY_API_KEY,
    .build = azure_build,
    .parse = azure_parse,
    .error = azure_error,
    .stream_open = azure_stream_open,
    .stream_feed = azure_stream_feed,
    .stream_finish = azure_stream_finish,
    .stream_free = azure_stream_free,
};
