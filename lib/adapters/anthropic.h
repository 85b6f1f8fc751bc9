/* The Anthropic Messages API adapter (schema "anthropic"). */
#ifndef AIGW_ADAPTERS_ANTHROPIC_H
#define AIGW_ADAPTERS_ANTHROPIC_H

#include "adapters/adapter.h"

extern const aigw__adapter aigw__adapter_anthropic;

#endif
