/* SPDX-License-Identifier: Apache-2.0 */
/* The cost expression language of budgets: a formula over a request's
 * usage, parsed once at load into RPN bytecode and evaluated per request.
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/') unary)*
 *   unary   := '-' unary | primary
 *   primary := NUMBER | VARIABLE | ('min' | 'max') '(' expr ',' expr ')'
 *            | '(' expr ')'
 *
 * Variables: input_tokens, cached_input_tokens, output_tokens,
 * reasoning_tokens, total_tokens, requests. Numbers: 12, 0.5, 1e-6, .25.
 *
 * Evaluation rules (documented contract):
 * - an unknown usage field (-1) counts as 0 and sets *unknown;
 * - x / 0 is 0 (a budget never fails a request over arithmetic);
 * - a negative or non-finite final result is 0 (a cost never refunds). */
#ifndef AIGW_ACCOUNT_COST_EXPR_H
#define AIGW_ACCOUNT_COST_EXPR_H

#include "adapters/adapter.h"
#include "aigw/error.h"

typedef struct aigw__cost_expr aigw__cost_expr;

/* The longest expression accepted, and the deepest operand stack. */
#define AIGW__COST_EXPR_MAX_LEN 4096
#define AIGW__COST_EXPR_MAX_STACK 64

/* Parses text (NUL-terminated). On failure returns AIGW_ECONFIG with an
 * error like `<what>: unexpected ")" at column 17` (columns from 1). */
aigw_status aigw__cost_expr_parse(const char *text, const char *what, aigw__cost_expr **out,
                                  aigw_error **err);

/* The cost of one request with usage u and `requests` requests (usually 1).
 * *unknown (may be NULL) is set to 1 if a variable it read was unknown. */
double aigw__cost_expr_eval(const aigw__cost_expr *e, const aigw__usage *u, long long requests,
                            int *unknown);

/* Which variables the expression reads: bit i for variable i in the order
 * above (input_tokens = bit 0 ... requests = bit 5). */
unsigned aigw__cost_expr_vars(const aigw__cost_expr *e);

void aigw__cost_expr_free(aigw__cost_expr *e);

#endif
