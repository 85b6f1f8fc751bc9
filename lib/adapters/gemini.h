/* SPDX-License-Identifier: Apache-2.0 */
/* Google's Gemini API (schema "gemini", AI Studio) and Vertex AI Gemini
 * (schema "gcp-vertex"): one translation, two URL and auth schemes. */
#ifndef AIGW_ADAPTERS_GEMINI_H
#define AIGW_ADAPTERS_GEMINI_H

#include "adapters/adapter.h"

extern const aigw__adapter aigw__adapter_gemini;
extern const aigw__adapter aigw__adapter_vertex;

#endif
