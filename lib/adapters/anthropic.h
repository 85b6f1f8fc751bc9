/* SPDX-License-Identifier: Apache-2.0 */
/* The Anthropic Messages API adapter (schema "anthropic"). */
#ifndef AIGW_ADAPTERS_ANTHROPIC_H
#define AIGW_ADAPTERS_ANTHROPIC_H

#include "adapters/adapter.h"

extern const aigw__adapter aigw__adapter_anthropic;
/* Claude on Vertex AI (schema "gcp-anthropic"): rawPredict/streamRawPredict. */
extern const aigw__adapter aigw__adapter_gcp_anthropic;

/* Builds a Messages API request: for api.anthropic.com (`vertex` 0) or for
 * Claude on Vertex AI (`vertex` 1: model in the URL, anthropic_version in
 * the body, backend->project and ->location required). */
aigw_status aigw__anthropic_build(aigw__call *call, aigw__upstream_request *out, int vertex,
                                  aigw_error **err);

#endif
