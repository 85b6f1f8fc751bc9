/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI wire format's handlers, shared by the providers that speak it
 * behind other URLs and auth (Azure OpenAI). */
#ifndef SIM_OPENAI_H
#define SIM_OPENAI_H

#include "sim_http.h"

void sim_openai_error(sim_response *res, int status, const char *message);
void sim_openai_chat_completions(const sim_request *req, sim_response *res);
void sim_openai_embeddings(const sim_request *req, sim_response *res);
void sim_openai_models(const sim_request *req, sim_response *res);

#endif
