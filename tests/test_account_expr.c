/* SPDX-License-Identifier: Apache-2.0 */
/* Cost expressions (lib/account/cost_expr.c): parsing, evaluation, errors. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "account/cost_expr.h"

static double eval_u(const char *text, aigw__usage u, int *unknown) {
    aigw__cost_expr *e = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw__cost_expr_parse(text, "cost", &e, &err);
    cr_assert_eq(st, AIGW_OK, "%s: %s", text, err ? aigw_error_message(err) : "");
    double v = aigw__cost_expr_eval(e, &u, 1, unknown);
    aigw__cost_expr_free(e);
    return v;
}

static double eval(const char *text) {
    aigw__usage u = {100, 40, 10, 3, 110};
    return eval_u(text, u, NULL);
}

static void parse_error(const char *text, const char *message) {
    aigw__cost_expr *e = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw__cost_expr_parse(text, "cost", &e, &err);
    cr_assert_eq(st, AIGW_ECONFIG, "%s parsed", text);
    cr_assert_null(e);
    cr_assert_str_eq(aigw_error_message(err), message, "%s", text);
    cr_assert_eq(aigw_error_status(err), AIGW_ECONFIG);
    aigw_error_free(err);
}

Test(cost_expr, arithmetic_and_precedence) {
    cr_assert_float_eq(eval("1 + 2 * 3"), 7, 1e-12);
    cr_assert_float_eq(eval("(1 + 2) * 3"), 9, 1e-12);
    cr_assert_float_eq(eval("10 - 4 - 3"), 3, 1e-12); /* left associative */
    cr_assert_float_eq(eval("64 / 4 / 2"), 8, 1e-12);
    cr_assert_float_eq(eval("-2 * -3"), 6, 1e-12);
    cr_assert_float_eq(eval("--5"), 5, 1e-12);
    cr_assert_float_eq(eval("2 - -3"), 5, 1e-12);
    cr_assert_float_eq(eval(".5 + 1.25 + 2e1 + 3E-1 + 1e+1"), 32.05, 1e-9);
    cr_assert_float_eq(eval("min(3, 5) + max(3, 5)"), 8, 1e-12);
    cr_assert_float_eq(eval("max(min(1,2), min(3, max(4, 5)))"), 3, 1e-12);
    cr_assert_float_eq(eval("  ( ( 7 ) )\t\n"), 7, 1e-12);
}

Test(cost_expr, variables) {
    cr_assert_float_eq(eval("input_tokens + 0.1*cached_input_tokens + 4*output_tokens"),
                       100 + 4 + 40, 1e-9);
    cr_assert_float_eq(eval("reasoning_tokens"), 3, 1e-12);
    cr_assert_float_eq(eval("total_tokens"), 110, 1e-12);
    cr_assert_float_eq(eval("requests * 1000"), 1000, 1e-12);
    cr_assert_float_eq(eval("(input_tokens - cached_input_tokens) * 2.5 / 1000000"), 0.00015,
                       1e-12);
    aigw__cost_expr *e = NULL;
    cr_assert_eq(aigw__cost_expr_parse("output_tokens + requests", "cost", &e, NULL), AIGW_OK);
    cr_assert_eq(aigw__cost_expr_vars(e), (1u << 2) | (1u << 5));
    aigw__usage u = {1, 1, 1, 1, 1};
    cr_assert_float_eq(aigw__cost_expr_eval(e, &u, 7, NULL), 8, 1e-12);
    aigw__cost_expr_free(e);
}

Test(cost_expr, division_by_zero_is_zero_and_results_clamp) {
    cr_assert_float_eq(eval("5 / 0"), 0, 1e-12);
    cr_assert_float_eq(eval("1 + 5 / (3 - 3)"), 1, 1e-12);
    cr_assert_float_eq(eval("input_tokens / (output_tokens - 10)"), 0, 1e-12);
    cr_assert_float_eq(eval("-5"), 0, 1e-12);            /* never negative */
    cr_assert_float_eq(eval("1e300 * 1e300"), 0, 1e-12); /* never infinite */
}

Test(cost_expr, unknown_usage_is_zero_and_flagged) {
    aigw__usage u = AIGW__USAGE_UNKNOWN;
    int unknown = 0;
    cr_assert_float_eq(eval_u("input_tokens + 5", u, &unknown), 5, 1e-12);
    cr_assert_eq(unknown, 1);
    aigw__usage v = {10, -1, 2, -1, 12};
    unknown = 0;
    cr_assert_float_eq(eval_u("input_tokens + output_tokens", v, &unknown), 12, 1e-12);
    cr_assert_eq(unknown, 0); /* only fields it reads count */
    cr_assert_float_eq(eval_u("input_tokens + cached_input_tokens", v, &unknown), 10, 1e-12);
    cr_assert_eq(unknown, 1);
}

Test(cost_expr, errors_name_the_column) {
    parse_error("input_tokens + 2)", "cost: unexpected \")\" at column 17");
    parse_error("(1 + 2", "cost: unexpected end of expression at column 7");
    parse_error("1 +", "cost: unexpected end of expression at column 4");
    parse_error("", "cost: empty expression");
    parse_error("   ", "cost: empty expression");
    parse_error("2 * * 3", "cost: unexpected \"*\" at column 5");
    parse_error("1 2", "cost: unexpected \"2\" at column 3");
    parse_error("input_token * 2",
                "cost: unknown name \"input_token\" at column 1 (variables: input_tokens, "
                "cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, requests; "
                "functions: min, max)");
    parse_error("min(1)", "cost: unexpected \")\" at column 6");
    parse_error("max(1, 2, 3)", "cost: unexpected \",\" at column 9");
    parse_error("min 1", "cost: unexpected \"1\" at column 5");
    parse_error("1..2", "cost: malformed number at column 1");
    parse_error("1e", "cost: malformed number at column 1");
    parse_error("12abc", "cost: malformed number at column 1");
    parse_error("1 % 2", "cost: unexpected \"%\" at column 3");
    parse_error("1 + \x01", "cost: unexpected byte 0x01 at column 5");
    parse_error("1e999", "cost: number out of range at column 1");
    parse_error("()", "cost: unexpected \")\" at column 2");
}

Test(cost_expr, nesting_is_bounded) {
    char deep[400];
    memset(deep, '(', 200);
    deep[200] = '1';
    memset(deep + 201, ')', 198);
    deep[399] = '\0';
    aigw__cost_expr *e = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__cost_expr_parse(deep, "x", &e, &err), AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(err), "too deeply nested"), "%s", aigw_error_message(err));
    aigw_error_free(err);
    /* A long flat sum keeps the stack shallow and is fine. */
    char flat[2000] = "1";
    for (int i = 0; i < 500; i++)
        strcat(flat, "+1");
    cr_assert_float_eq(eval(flat), 501, 1e-9);
    /* Right-nested products need a deeper stack: bounded too. */
    char right[1000] = "";
    for (int i = 0; i < 100; i++)
        strcat(right, "1+(");
    strcat(right, "1");
    for (int i = 0; i < 100; i++)
        strcat(right, ")");
    err = NULL;
    cr_assert_eq(aigw__cost_expr_parse(right, "x", &e, &err), AIGW_ECONFIG);
    aigw_error_free(err);
    char toolong[AIGW__COST_EXPR_MAX_LEN + 10];
    memset(toolong, '1', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';
    err = NULL;
    cr_assert_eq(aigw__cost_expr_parse(toolong, "x", &e, &err), AIGW_ECONFIG);
    aigw_error_free(err);
}

Test(cost_expr, what_prefixes_errors) {
    aigw__cost_expr *e = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__cost_expr_parse("foo(", "budgets[2].cost", &e, &err), AIGW_ECONFIG);
    cr_assert(
        !strncmp(aigw_error_message(err), "budgets[2].cost: unknown name \"foo\" at column 1", 47),
        "%s", aigw_error_message(err));
    aigw_error_free(err);
}
