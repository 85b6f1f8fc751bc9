/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing the fault spec ("status=503,retry_after=1,latency_ms=200"). */
#include "sim_fault.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_fault_init(sim_fault *f) {
    memset(f, 0, sizeof(*f));
    f->retry_after = -1;
    f->cut_after = -1;
    f->trickle_bytes = 8;
}

static int parse_uint(const char *s, size_t n, long max, long *out) {
    char tmp[24];
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -1;
    errno = 0;
    long v = strtol(tmp, NULL, 10);
    if (errno || v > max)
        return -1;
    *out = v;
    return 0;
}

int sim_fault_parse(sim_fault *f, const char *spec, char *err, size_t errlen) {
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            snprintf(err, errlen, "fault spec item without '=': %.*s", (int)(end - p), p);
            return -1;
        }
        size_t klen = (size_t)(eq - p);
        while (klen && p[klen - 1] == ' ')
            klen--;
        const char *v = eq + 1;
        size_t vlen = (size_t)(end - v);
        while (vlen && v[vlen - 1] == ' ')
            vlen--;
        long val = 0;
        struct {
            const char *key;
            long min, max;
        } keys[] = {
            {"status", 100, 599},      {"retry_after", 0, 86400},   {"latency_ms", 0, 600000},
            {"cut_after", 0, INT_MAX}, {"malformed", 0, 1},         {"error_event", 0, 1},
            {"trickle_ms", 0, 60000},  {"trickle_bytes", 1, 65536}, {"event_ms", 0, 60000},
            {"close", 0, 1},           {"drop_done", 0, 1},
        };
        size_t k;
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            if (strlen(keys[k].key) == klen && memcmp(keys[k].key, p, klen) == 0)
                break;
        if (k == sizeof(keys) / sizeof(keys[0])) {
            snprintf(err, errlen, "unknown fault key: %.*s", (int)klen, p);
            return -1;
        }
        if (parse_uint(v, vlen, keys[k].max, &val) != 0 || val < keys[k].min) {
            snprintf(err, errlen, "bad value for fault key %s: %.*s", keys[k].key, (int)vlen, v);
            return -1;
        }
        switch (k) {
        case 0:
            f->status = (int)val;
            break;
        case 1:
            f->retry_after = (int)val;
            break;
        case 2:
            f->latency_ms = (unsigned)val;
            break;
        case 3:
            f->cut_after = (int)val;
            break;
        case 4:
            f->malformed = (int)val;
            break;
        case 5:
            f->error_event = (int)val;
            break;
        case 6:
            f->trickle_ms = (unsigned)val;
            break;
        case 7:
            f->trickle_bytes = (unsigned)val;
            break;
        case 8:
            f->event_ms = (unsigned)val;
            break;
        case 9:
            f->close = (int)val;
            break;
        default:
            f->drop_done = (int)val;
            break;
        }
        p = end;
    }
    return 0;
}
