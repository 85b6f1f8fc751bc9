/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a client's budgets (aigw_budget_status) in the budget tests
 * (tests/test_budgets*.c), so that a hang in the library shows as a
 * failure within 5 s instead of the suite's timeout. */
#ifndef AIGW_TEST_BUDGET_STATUS_H
#define AIGW_TEST_BUDGET_STATUS_H

#include <stddef.h>

#include "aigw/aigw.h"

/* aigw_budget_status(C) on a helper thread; the test fails when it does
 * not return within 5 s. Sets *json (free with aigw_free) and, when
 * MESSAGE is set, copies the error's message into MESSAGE[0..cap). */
aigw_status aigw_test_budget_status(aigw_client *c, char **json, char *message, size_t cap);

/* The member FIELD ("remaining", "limit", "reset_seconds") of budget NAME's
 * counter whose instance contains INSTANCE (NULL: the unscoped or first
 * one); the test fails when it is not there. */
double aigw_test_budget_counter(aigw_client *c, const char *name, const char *instance,
                                const char *field);

#endif
