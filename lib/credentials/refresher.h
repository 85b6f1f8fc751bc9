/* SPDX-License-Identifier: Apache-2.0 */
/* Token lifecycle: one cached credential value per credential, refreshed
 * ahead of expiry, one refresh at a time however many requests wait on it,
 * failures retried with exponential backoff and reported with the
 * credential's name (never a secret). Thread-safe. */
#ifndef AIGW_CREDENTIALS_REFRESHER_H
#define AIGW_CREDENTIALS_REFRESHER_H

#include <time.h>

#include "credentials/credential.h"

/* Obtains a fresh value (an HTTP token exchange, reading a file...). Called
 * with no lock held, by one thread at a time per refresher. On failure it
 * returns a status with a message in *err that names what failed (an
 * endpoint, a file) and never a secret. */
typedef aigw_status (*aigw__cred_fetch_fn)(void *ctx, aigw__cred_value *out, aigw_error **err);

typedef struct aigw__refresher aigw__refresher;

/* Refresh this long before expiry (or at half the lifetime of a token that
 * lives less than twice this), so a request never carries a token about to
 * expire. */
#define AIGW__REFRESH_AHEAD_SECONDS 300
/* Treat a token as expired this much earlier than it says (clock skew). */
#define AIGW__CLOCK_SKEW_SECONDS 30
/* Backoff after a failed refresh: 1 s, doubling, at most this. */
#define AIGW__REFRESH_MAX_BACKOFF_SECONDS 60

/* `name` is the credential's name for errors ("credential \"corp\"").
 * The refresher owns ctx and frees it with free_ctx (may be NULL). */
aigw_status aigw__refresher_new(const char *name, aigw__cred_fetch_fn fetch, void *ctx,
                                void (*free_ctx)(void *ctx), aigw__refresher **out);
aigw__refresher *aigw__refresher_ref(aigw__refresher *r);
void aigw__refresher_unref(aigw__refresher *r); /* NULL is a no-op */

/* A copy of a value valid now (the caller clears it). Fetches when there is
 * none or it has expired (other callers wait for that one fetch); when it
 * is merely due for refresh, one caller refreshes while the others go on
 * with the current value. After a failure, callers get that failure again
 * without a fetch until the backoff ends, unless a still-valid value
 * exists. */
aigw_status aigw__refresher_get(aigw__refresher *r, aigw__cred_value *out, aigw_error **err);

/* For tests: replace the clock (seconds since the epoch). */
void aigw__refresher_set_clock(aigw__refresher *r, time_t (*now)(void *user), void *user);

#endif
