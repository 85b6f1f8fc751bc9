/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — amounts and durations in human units. */
#include <math.h>
#include <string.h>

#include "cli.h"

/* "%.*f" with trailing zeros (and a trailing point) dropped. */
static void trimmed(double v, int decimals, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0') {
            buf[--n] = '\0';
        }
        if (n > 0 && buf[n - 1] == '.') {
            buf[--n] = '\0';
        }
    }
    if (strcmp(buf, "-0") == 0) {
        snprintf(buf, cap, "0");
    }
}

/* Rounds toward zero to `decimals`, so that an amount is never shown as
 * more than there is (99999 tokens is "99.9k", not "100k"). */
static double toward_zero(double v, int decimals) {
    double scale = pow(10, decimals);
    return v < 0 ? ceil(v * scale) / scale : floor(v * scale) / scale;
}

void cli_format_amount(double v, int dollars, char *buf, size_t cap) {
    static const struct {
        double scale;
        const char *suffix;
    } units[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    char num[64];
    const char *suffix = "";
    double a = fabs(v);

    if (!isfinite(v)) {
        snprintf(buf, cap, "%s", isnan(v) ? "?" : v > 0 ? "unlimited" : "-unlimited");
        return;
    }
    if (a >= 10000) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (a >= units[i].scale) {
                trimmed(toward_zero(v / units[i].scale, 1), 1, num, sizeof(num));
                suffix = units[i].suffix;
                break;
            }
        }
    } else if (dollars && a > 0 && a < 0.01) {
        trimmed(toward_zero(v, 6), 6, num, sizeof(num));
    } else if (dollars && v == floor(v)) {
        snprintf(num, sizeof(num), "%.0f", v); /* "$50", not "$50.00" */
    } else if (dollars) {
        snprintf(num, sizeof(num), "%.2f", toward_zero(v, 2));
    } else {
        trimmed(toward_zero(v, 2), 2, num, sizeof(num));
    }
    if (dollars && num[0] == '-') {
        snprintf(buf, cap, "-$%s%s", num + 1, suffix);
    } else {
        snprintf(buf, cap, "%s%s%s", dollars ? "$" : "", num, suffix);
    }
}

void cli_format_seconds(double seconds, char *buf, size_t cap) {
    static const struct {
        long long seconds;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};

    if (isnan(seconds) || seconds < 0) {
        snprintf(buf, cap, "never");
        return;
    }
    if (seconds == 0) {
        snprintf(buf, cap, "0s");
        return;
    }
    if (seconds < 60) {
        char num[32];
        /* Rounded up: a client waiting this long finds the budget ready. */
        trimmed(ceil(seconds * 10) / 10, 1, num, sizeof(num));
        snprintf(buf, cap, "%ss", num);
        return;
    }
    if (seconds > 1e15) {
        snprintf(buf, cap, "never");
        return;
    }
    long long s = (long long)ceil(seconds);
    size_t used = 0;
    int shown = 0;
    buf[0] = '\0';
    /* The largest unit and the next one: "13h4m", "2d3h", "1m30s". */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
        long long n = s / units[i].seconds;
        if (n == 0 && shown == 0) {
            continue;
        }
        s -= n * units[i].seconds;
        shown++;
        if (n == 0) {
            break;
        }
        int w = snprintf(buf + used, cap - used, "%lld%c", n, units[i].unit);
        if (w < 0 || (size_t)w >= cap - used) {
            break;
        }
        used += (size_t)w;
    }
}
