/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the cost expression parser (lib/account/cost_expr.c).
 *
 * Besides crashes and sanitizer reports it checks the parser's promises:
 * a failure gives AIGW_ECONFIG (or ENOMEM) with an error whose column lies
 * inside the text (or one past its end); a success evaluates without
 * touching memory it should not, to a finite, non-negative number, for
 * known, unknown and extreme usage; and parsing the same text twice gives
 * the same result. cost_expr.c is compiled in, so it carries libFuzzer's
 * coverage instrumentation even when the library does not. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/account/cost_expr.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > AIGW__COST_EXPR_MAX_LEN + 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text); /* stops at an embedded NUL */

    aigw__cost_expr *e = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw__cost_expr_parse(text, "cost", &e, &err);
    if (st == AIGW_OK) {
        if (!e || err)
            abort();
        aigw__usage us[4] = {{100, 40, 10, 3, 110},
                             AIGW__USAGE_UNKNOWN,
                             {0, 0, 0, 0, 0},
                             {LLONG_MAX, LLONG_MAX, LLONG_MAX, LLONG_MAX, LLONG_MAX}};
        double first = 0;
        for (int i = 0; i < 4; i++) {
            int unknown = 0;
            double v = aigw__cost_expr_eval(e, &us[i], i == 3 ? LLONG_MAX : 1, &unknown);
            if (!isfinite(v) || v < 0)
                abort();
            if (i == 0)
                first = v;
            if (i != 1 && unknown)
                abort();
        }
        aigw__cost_expr *again = NULL;
        if (aigw__cost_expr_parse(text, "cost", &again, NULL) != AIGW_OK)
            abort();
        double v2 = aigw__cost_expr_eval(again, &us[0], 1, NULL);
        if (memcmp(&v2, &first, sizeof v2))
            abort();
        aigw__cost_expr_free(again);
        aigw__cost_expr_free(e);
    } else {
        if (e || (st != AIGW_ECONFIG && st != AIGW_ENOMEM) || !err)
            abort();
        const char *msg = aigw_error_message(err);
        if (strncmp(msg, "cost: ", 6))
            abort();
        const char *col = strstr(msg, " at column ");
        if (col) {
            unsigned long c = strtoul(col + 11, NULL, 10);
            if (c < 1 || c > len + 1)
                abort();
        }
        aigw_error_free(err);
    }
    free(text);
    return 0;
}
