/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials: the shared config / credentials files' INI and ISO 8601
 * times (see aws_files.h). */
#include "credentials/aws_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/errors.h"

/* ---- the shared files' INI ---- */

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

static aigw_status set_field(char **field, const char *v, size_t n) {
    char *d = aigw__aws_dup_n(v, n);
    if (!d)
        return AIGW_ENOMEM;
    aigw__aws_wipe_free(*field);
    *field = d;
    return AIGW_OK;
}

static aigw_status store_key(aigw__aws_profile *p, const char *k, size_t klen, const char *v,
                             size_t vlen) {
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"aws_access_key_id", offsetof(aigw__aws_profile, aws_access_key_id)},
        {"aws_secret_access_key", offsetof(aigw__aws_profile, aws_secret_access_key)},
        {"aws_session_token", offsetof(aigw__aws_profile, aws_session_token)},
        {"role_arn", offsetof(aigw__aws_profile, role_arn)},
        {"web_identity_token_file", offsetof(aigw__aws_profile, web_identity_token_file)},
        {"role_session_name", offsetof(aigw__aws_profile, role_session_name)},
        {"source_profile", offsetof(aigw__aws_profile, source_profile)},
        {"credential_source", offsetof(aigw__aws_profile, credential_source)},
        {"region", offsetof(aigw__aws_profile, region)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == klen && strncasecmp(keys[i].name, k, klen) == 0)
            return set_field((char **)((char *)p + keys[i].off), v, vlen);
    return AIGW_OK;
}

aigw_status aigw__aws_profile_parse(const char *text, size_t len, const char *file,
                                    const char *profile, int config_file, aigw__aws_profile *out,
                                    aigw_error **err) {
    const char *end = text + len;
    const char *line = text;
    unsigned long lineno = 0;
    int in_section = 0, in_target = 0;
    long prop_indent = -1;
    size_t plen = strlen(profile);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 BOM */
        line += 3;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        lineno++;
        const char *s = line;
        long indent = 0;
        while (s < le && is_blank(*s)) {
            s++;
            indent++;
        }
        const char *e = le;
        while (e > s && (is_blank(e[-1]) || e[-1] == '\r'))
            e--;
        line = nl ? nl + 1 : end;
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close)
                return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: section header without ']'",
                                       file, lineno);
            const char *rest = close + 1;
            while (rest < e && is_blank(*rest))
                rest++;
            if (rest < e && *rest != '#' && *rest != ';')
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s line %lu: unexpected text after a section header", file,
                                       lineno);
            const char *n = s + 1, *ne = close;
            while (n < ne && is_blank(*n))
                n++;
            while (ne > n && is_blank(ne[-1]))
                ne--;
            if (n == ne)
                return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: empty section name", file,
                                       lineno);
            in_section = 1;
            prop_indent = -1;
            in_target = 0;
            if (config_file) {
                if ((size_t)(ne - n) == 7 && memcmp(n, "default", 7) == 0) {
                    in_target = strcmp(profile, "default") == 0;
                } else if (ne - n > 7 && memcmp(n, "profile", 7) == 0 && is_blank(n[7])) {
                    const char *pn = n + 7;
                    while (pn < ne && is_blank(*pn))
                        pn++;
                    in_target = (size_t)(ne - pn) == plen && memcmp(pn, profile, plen) == 0;
                }
            } else {
                in_target = (size_t)(ne - n) == plen && memcmp(n, profile, plen) == 0;
            }
            if (in_target)
                out->found = 1;
            continue;
        }
        if (prop_indent >= 0 && indent > prop_indent)
            continue; /* a sub-property of the property above */
        if (!in_section)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s line %lu: a property outside any [section]", file, lineno);
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq)
            return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: expected 'name = value'", file,
                                   lineno);
        const char *k = s, *ke = eq;
        while (ke > k && is_blank(ke[-1]))
            ke--;
        if (k == ke)
            return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: a property without a name",
                                   file, lineno);
        const char *v = eq + 1, *ve = e;
        while (v < ve && is_blank(*v))
            v++;
        for (const char *c = v + 1; c < ve; c++)
            if ((*c == '#' || *c == ';') && is_blank(c[-1])) {
                ve = c;
                break;
            }
        while (ve > v && is_blank(ve[-1]))
            ve--;
        prop_indent = indent;
        if (in_target && store_key(out, k, (size_t)(ke - k), v, (size_t)(ve - v)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return AIGW_OK;
}

void aigw__aws_profile_clear(aigw__aws_profile *p) {
    aigw__aws_wipe_free(p->aws_access_key_id);
    aigw__aws_wipe_free(p->aws_secret_access_key);
    aigw__aws_wipe_free(p->aws_session_token);
    aigw__free(p->role_arn);
    aigw__free(p->web_identity_token_file);
    aigw__free(p->role_session_name);
    aigw__free(p->source_profile);
    aigw__free(p->credential_source);
    aigw__free(p->region);
    memset(p, 0, sizeof *p);
}

/* ---- times ---- */

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int aigw__aws_parse_time(const char *s, time_t *out) {
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - offset;
    return 0;
}
