/* SPDX-License-Identifier: Apache-2.0 */
/* Vertex AI's bearer-token check, shared by Gemini on Vertex
 * (sim_gemini.c) and Claude on Vertex (sim_anthropic.c). */
#ifndef SIM_VERTEX_H
#define SIM_VERTEX_H

#include "sim_http.h"

/* 1 when no --bearer-token was given, or REQ carries it as
 * "Authorization: Bearer TOKEN". */
int sim_vertex_token_ok(const sim_request *req);

#endif
