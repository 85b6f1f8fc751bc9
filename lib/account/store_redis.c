/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis budget store; see store_redis.h. */
#include "account/store_redis.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"

/* ARGV[1] = now (µs); then for each key 5 values: type (0 bucket,
 * 1 window), amount, limit, refill per second, ttl (ms: a window's; a
 * bucket's margin over its time to fill up; 0 = no expiry).
 * Returns {1, remaining (string) per key} or {0, index, retry_after
 * (string)}. */
static const char reserve_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local lv, lt = {}, {}\n"
    "for i = 1, #KEYS do\n"
    "  local b = 1 + (i - 1) * 5\n"
    "  local typ, amt, lim, refill = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]),"
    " tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])\n"
    "  if typ == 0 then\n"
    "    local v = redis.call('HMGET', KEYS[i], 'l', 't')\n"
    "    local level, last = tonumber(v[1]), tonumber(v[2])\n"
    "    if level == nil or last == nil then level = lim; last = now end\n"
    "    if now > last then\n"
    "      if level >= lim or refill <= 0 then last = now\n"
    "      else\n"
    "        local add = math.floor((now - last) * refill / 1000000)\n"
    "        if add >= lim - level then level = lim; last = now\n"
    "        elseif add > 0 then level = level + add;"
    " last = last + math.floor(add * 1000000 / refill) end\n"
    "      end\n"
    "    end\n"
    "    lv[i] = level; lt[i] = last\n"
    "    if amt > level then\n"
    "      local ra = -1\n"
    "      if amt <= lim and refill > 0 then\n"
    "        ra = (amt - level) / refill - (now - last) / 1000000\n"
    "        if ra < 0 then ra = 0 end\n"
    "      end\n"
    "      return {0, i, string.format('%.9f', ra)}\n"
    "    end\n"
    "  else\n"
    "    local used = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "    lv[i] = used\n"
    "    if amt > lim - used then\n"
    "      if amt > lim then return {0, i, '-1'} end\n"
    "      return {0, i, 'w'}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {1}\n"
    "for i = 1, #KEYS do\n"
    "  local b = 1 + (i - 1) * 5\n"
    "  local typ, amt, ttl = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 5])\n"
    "  if typ == 0 then\n"
    "    local lim, refill = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])\n"
    "    out[i + 1] = string.format('%.0f', lv[i] - amt)\n"
    "    redis.call('HSET', KEYS[i], 'l', string.format('%.0f', lv[i] - amt),"
    " 't', string.format('%.0f', lt[i]))\n"
    "    if ttl > 0 then ttl = ttl + math.ceil((lim - lv[i] + amt) * 1000 / refill) end\n"
    "  else\n"
    "    out[i + 1] = string.format('%.0f', tonumber(ARGV[b + 3]) - lv[i] - amt)\n"
    "    redis.call('SET', KEYS[i], string.format('%.0f', lv[i] + amt))\n"
    "  end\n"
    "  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) "
    "end\n"
    "end\n"
    "return out\n";

/* ARGV[1] = now (µs); per key: type, delta (> 0 charges), limit, refill,
 * ttl margin. Buckets refill first, then lose delta (capped at the limit);
 * windows gain delta (floored at 0). */
static const char settle_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "for i = 1, #KEYS do\n"
    "  local b = 1 + (i - 1) * 5\n"
    "  local typ, d, lim, refill, ttl = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]),"
    " tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])\n"
    "  if typ == 0 then\n"
    "    local v = redis.call('HMGET', KEYS[i], 'l', 't')\n"
    "    local level, last = tonumber(v[1]), tonumber(v[2])\n"
    "    if level == nil or last == nil then level = lim; last = now end\n"
    "    if now > last then\n"
    "      if level >= lim or refill <= 0 then last = now\n"
    "      else\n"
    "        local add = math.floor((now - last) * refill / 1000000)\n"
    "        if add >= lim - level then level = lim; last = now\n"
    "        elseif add > 0 then level = level + add;"
    " last = last + math.floor(add * 1000000 / refill) end\n"
    "      end\n"
    "    end\n"
    "    level = level - d\n"
    "    if level > lim then level = lim end\n"
    "    redis.call('HSET', KEYS[i], 'l', string.format('%.0f', level),"
    " 't', string.format('%.0f', last))\n"
    "    if ttl > 0 then ttl = ttl + math.ceil((lim - level) * 1000 / refill) end\n"
    "  else\n"
    "    local used = (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) + d\n"
    "    if used < 0 then used = 0 end\n"
    "    redis.call('SET', KEYS[i], string.format('%.0f', used))\n"
    "  end\n"
    "  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) "
    "end\n"
    "end\n"
    "return 1\n";

typedef struct conn {
    redisContext *ctx;
    int busy;
} conn;

typedef struct redis_store {
    aigw__store base;
    char *host, *password, *prefix;
    int port, timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *pool;
    size_t pool_size;
    char reserve_sha[41], settle_sha[41];
} redis_store;

#define NS 1000000000LL
#define TTL_MARGIN_MS 60000LL

static void sha1_hex(const char *text, char out[41]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)text, strlen(text), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- the pool ---- */

static conn *pool_get(redis_store *rs) {
    pthread_mutex_lock(&rs->mu);
    for (;;) {
        for (size_t i = 0; i < rs->pool_size; i++) {
            if (!rs->pool[i].busy) {
                rs->pool[i].busy = 1;
                pthread_mutex_unlock(&rs->mu);
                return &rs->pool[i];
            }
        }
        pthread_cond_wait(&rs->cv, &rs->mu);
    }
}

static void pool_put(redis_store *rs, conn *c) {
    pthread_mutex_lock(&rs->mu);
    c->busy = 0;
    pthread_cond_signal(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

static void drop(conn *c) {
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

/* Connects c if it is not; 0 on success, -1 with the reason in err. */
static int ensure(redis_store *rs, conn *c, aigw_error **err) {
    if (c->ctx && !c->ctx->err)
        return 0;
    drop(c);
    struct timeval tv = {rs->timeout_ms / 1000, (rs->timeout_ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout(rs->host, rs->port, tv);
    if (!ctx || ctx->err) {
        aigw__error_set(err, AIGW_ECONNECT, "budget store: cannot connect to redis %s:%d: %s",
                        rs->host, rs->port, ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisFree(ctx);
        return -1;
    }
    redisSetTimeout(ctx, tv);
    if (rs->password) {
        redisReply *r = redisCommand(ctx, "AUTH %s", rs->password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            aigw__error_set(err, AIGW_ECONNECT, "budget store: redis %s:%d refused AUTH", rs->host,
                            rs->port);
            redisFree(ctx);
            return -1;
        }
    }
    c->ctx = ctx;
    return 0;
}

/* Runs a script by SHA, loading it with EVAL on NOSCRIPT; one retry on a
 * fresh connection when a pooled one turned out dead. NULL on failure
 * (err set, AIGW_ECONNECT or AIGW_EUPSTREAM for a script error). */
static redisReply *run(redis_store *rs, const char *sha, const char *script, int argc,
                       const char **argv, size_t *lens, aigw_error **err) {
    conn *c = pool_get(rs);
    redisReply *reply = NULL;
    for (int attempt = 0; attempt < 2 && !reply; attempt++) {
        int was_connected = c->ctx != NULL;
        if (ensure(rs, c, err))
            break;
        argv[0] = "EVALSHA";
        lens[0] = 7;
        argv[1] = sha;
        lens[1] = 40;
        reply = redisCommandArgv(c->ctx, argc, argv, lens);
        if (reply && reply->type == REDIS_REPLY_ERROR && !strncmp(reply->str, "NOSCRIPT", 8)) {
            freeReplyObject(reply);
            argv[0] = "EVAL";
            lens[0] = 4;
            argv[1] = script;
            lens[1] = strlen(script);
            reply = redisCommandArgv(c->ctx, argc, argv, lens);
        }
        if (!reply) {
            int retry = was_connected && attempt == 0;
            if (!retry)
                aigw__error_set(err, AIGW_ECONNECT, "budget store: redis %s:%d: %s", rs->host,
                                rs->port, c->ctx->errstr[0] ? c->ctx->errstr : "I/O error");
            drop(c);
            if (!retry)
                break;
        }
    }
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        aigw__error_set(err, AIGW_EUPSTREAM, "budget store: redis script failed: %.200s",
                        reply->str);
        freeReplyObject(reply);
        reply = NULL;
    }
    pool_put(rs, c);
    return reply;
}

/* ---- keys and arguments ---- */

typedef struct args {
    const char **argv;
    size_t *lens;
    char *text; /* every number and key, back to back */
    int argc;
} args;

static void args_free(args *a) {
    aigw__free(a->argv);
    aigw__free(a->lens);
    aigw__free(a->text);
}

/* Appends one argument to a (capacity checked by the caller's sizing). */
static char *put(args *a, char *p, const char *s, size_t len) {
    memcpy(p, s, len);
    p[len] = '\0';
    a->argv[a->argc] = p;
    a->lens[a->argc++] = len;
    return p + len + 1;
}

static char *putnum(args *a, char *p, long long v) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%lld", v);
    return put(a, p, tmp, (size_t)len);
}

static char *putkey(args *a, char *p, redis_store *rs, const aigw__store_key *k, int64_t window) {
    int len;
    if (k->budget->type == AIGW__LIMIT_WINDOW)
        len = sprintf(p, "%s%s:%s:w%lld", rs->prefix, k->budget->name, k->instance,
                      (long long)window);
    else
        len = sprintf(p, "%s%s:%s", rs->prefix, k->budget->name, k->instance);
    a->argv[a->argc] = p;
    a->lens[a->argc++] = (size_t)len;
    return p + len + 1;
}

static aigw_status args_new(redis_store *rs, const aigw__store_key *keys, size_t n, args *a,
                            aigw_error **err) {
    size_t text = 64;
    for (size_t i = 0; i < n; i++)
        text += strlen(rs->prefix) + strlen(keys[i].budget->name) + strlen(keys[i].instance) + 32 +
                5 * 24;
    memset(a, 0, sizeof *a);
    a->argv = aigw__calloc(4 + 6 * n, sizeof *a->argv);
    a->lens = aigw__calloc(4 + 6 * n, sizeof *a->lens);
    a->text = aigw__malloc(text);
    if (!a->argv || !a->lens || !a->text) {
        args_free(a);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    a->argc = 2; /* EVALSHA sha, filled by run() */
    return AIGW_OK;
}

/* A key's time to live: until its window ended, plus a margin for clock
 * skew. For a bucket the scripts add the time it takes to fill up again to
 * the margin passed; 0 = keep (a bucket that never refills). */
static long long ttl_ms(const aigw__budget *b, int64_t now, int64_t window_end) {
    if (b->type == AIGW__LIMIT_WINDOW)
        return (window_end - now) / 1000000 + TTL_MARGIN_MS;
    return b->refill > 0 ? TTL_MARGIN_MS : 0;
}

static aigw_status fail_by_policy(const aigw__store_key *keys, size_t n, aigw__hold *holds,
                                  aigw__refusal *refusal) {
    for (size_t i = 0; i < n; i++) {
        if (!keys[i].budget->fail_open) {
            if (refusal)
                *refusal = (aigw__refusal){.index = i, .retry_after = 1, .store_error = 1};
            return AIGW_ERATELIMIT;
        }
    }
    for (size_t i = 0; i < n; i++)
        holds[i].skipped = 1;
    return AIGW_OK;
}

static aigw_status rd_reserve(aigw__store *s, const aigw__store_key *keys, const int64_t *amounts,
                              size_t n, int64_t now, aigw__hold *holds, aigw__refusal *refusal,
                              aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    if (n > AIGW__STORE_MAX_KEYS)
        return aigw__error_set(err, AIGW_EINVAL, "a request may reserve in at most %d budgets",
                               AIGW__STORE_MAX_KEYS);
    args a;
    aigw_status st = args_new(rs, keys, n, &a, err);
    if (st)
        return st;
    char *p = a.text;
    int64_t ends[AIGW__STORE_MAX_KEYS];
    p = putnum(&a, p, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const aigw__budget *b = keys[i].budget;
        holds[i] = (aigw__hold){.amount = amounts[i]};
        ends[i] = 0;
        if (b->type == AIGW__LIMIT_WINDOW)
            holds[i].window = aigw__window_index(b->per, now, &ends[i]);
        p = putkey(&a, p, rs, &keys[i], holds[i].window);
    }
    p = putnum(&a, p, now / 1000);
    for (size_t i = 0; i < n; i++) {
        const aigw__budget *b = keys[i].budget;
        int bucket = b->type == AIGW__LIMIT_BUCKET;
        p = putnum(&a, p, bucket ? 0 : 1);
        p = putnum(&a, p, amounts[i]);
        p = putnum(&a, p, bucket ? b->capacity : b->max);
        p = putnum(&a, p, bucket ? b->refill : 0);
        p = putnum(&a, p, ttl_ms(b, now, ends[i]));
    }
    aigw_error *local = NULL;
    redisReply *r = run(rs, rs->reserve_sha, reserve_lua, a.argc, a.argv, a.lens, &local);
    args_free(&a);
    if (!r) {
        aigw_status fst = aigw_error_status(local);
        aigw_error_free(local);
        if (fst == AIGW_ENOMEM)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        return fail_by_policy(keys, n, holds, refusal);
    }
    st = AIGW_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        st = aigw__error_set(err, AIGW_EINTERNAL, "budget store: unexpected reply from redis");
    } else if (r->element[0]->integer == 0 && r->elements == 3) {
        size_t i = (size_t)(r->element[1]->integer - 1);
        if (i >= n)
            i = 0;
        const char *ra = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "-1";
        double retry = ra[0] == 'w' ? (double)(ends[i] - now) / (double)NS : atof(ra);
        if (refusal)
            *refusal = (aigw__refusal){.index = i, .retry_after = retry};
        st = AIGW_ERATELIMIT;
    } else if (r->element[0]->integer == 1 && r->elements == n + 1) {
        for (size_t i = 0; i < n; i++) {
            if (r->element[i + 1]->type != REDIS_REPLY_STRING)
                continue;
            holds[i].remaining = atoll(r->element[i + 1]->str);
            holds[i].has_remaining = 1;
        }
    }
    freeReplyObject(r);
    return st;
}

static aigw_status rd_settle(aigw__store *s, const aigw__store_key *keys, const aigw__hold *holds,
                             const int64_t *actual, size_t n, int64_t now, aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    if (n > AIGW__STORE_MAX_KEYS)
        return aigw__error_set(err, AIGW_EINVAL, "too many budgets");
    size_t idx[AIGW__STORE_MAX_KEYS], m = 0;
    int64_t delta[AIGW__STORE_MAX_KEYS], win[AIGW__STORE_MAX_KEYS], ends[AIGW__STORE_MAX_KEYS];
    for (size_t i = 0; i < n; i++) {
        if (holds[i].skipped)
            continue;
        int64_t d = actual[i] - holds[i].amount;
        const aigw__budget *b = keys[i].budget;
        int64_t w = 0, end = 0;
        if (b->type == AIGW__LIMIT_WINDOW) {
            w = aigw__window_index(b->per, now, &end);
            if (w != holds[i].window) {
                if (d <= 0 || w < holds[i].window)
                    continue; /* ended window: no refund; clock stepped back: skip */
            }
        }
        if (!d)
            continue;
        idx[m] = i;
        delta[m] = d;
        win[m] = w;
        ends[m++] = end;
    }
    if (!m)
        return AIGW_OK;
    aigw__store_key sub[AIGW__STORE_MAX_KEYS];
    for (size_t j = 0; j < m; j++)
        sub[j] = keys[idx[j]];
    args a;
    aigw_status st = args_new(rs, sub, m, &a, err);
    if (st)
        return st;
    char *p = a.text;
    p = putnum(&a, p, (long long)m);
    for (size_t j = 0; j < m; j++)
        p = putkey(&a, p, rs, &sub[j], win[j]);
    p = putnum(&a, p, now / 1000);
    for (size_t j = 0; j < m; j++) {
        const aigw__budget *b = sub[j].budget;
        int bucket = b->type == AIGW__LIMIT_BUCKET;
        p = putnum(&a, p, bucket ? 0 : 1);
        p = putnum(&a, p, delta[j]);
        p = putnum(&a, p, bucket ? b->capacity : b->max);
        p = putnum(&a, p, bucket ? b->refill : 0);
        p = putnum(&a, p, ttl_ms(b, now, ends[j]));
    }
    aigw_error *local = NULL;
    redisReply *r = run(rs, rs->settle_sha, settle_lua, a.argc, a.argv, a.lens, &local);
    args_free(&a);
    if (!r) {
        st = local ? aigw_error_status(local) : AIGW_ECONNECT;
        if (err && !*err)
            *err = local;
        else
            aigw_error_free(local);
        return st;
    }
    freeReplyObject(r);
    return AIGW_OK;
}

static aigw_status rd_status(aigw__store *s, const aigw__store_key *k, int64_t now,
                             aigw__budget_status *out, aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    const aigw__budget *b = k->budget;
    char key[1024];
    int64_t end = 0, w = 0;
    if (b->type == AIGW__LIMIT_WINDOW)
        w = aigw__window_index(b->per, now, &end);
    if (b->type == AIGW__LIMIT_WINDOW)
        snprintf(key, sizeof key, "%s%s:%s:w%lld", rs->prefix, b->name, k->instance, (long long)w);
    else
        snprintf(key, sizeof key, "%s%s:%s", rs->prefix, b->name, k->instance);
    conn *c = pool_get(rs);
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && !r; attempt++) {
        int was = c->ctx != NULL;
        if (ensure(rs, c, err))
            break;
        r = b->type == AIGW__LIMIT_WINDOW ? redisCommand(c->ctx, "GET %s", key)
                                          : redisCommand(c->ctx, "HMGET %s l t", key);
        if (!r) {
            if (!was || attempt)
                aigw__error_set(err, AIGW_ECONNECT, "budget store: redis %s:%d: %s", rs->host,
                                rs->port, c->ctx->errstr);
            drop(c);
            if (!was)
                break;
        }
    }
    pool_put(rs, c);
    if (!r)
        return AIGW_ECONNECT;
    if (b->type == AIGW__LIMIT_WINDOW) {
        long long used = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
        out->limit = b->max;
        out->remaining = b->max - used;
        out->reset = (double)(end - now) / (double)NS;
    } else {
        int64_t level = b->capacity, last = now / 1000;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            level = atoll(r->element[0]->str);
            last = atoll(r->element[1]->str);
        }
        int64_t now_us = now / 1000;
        if (now_us > last && level < b->capacity) {
            int64_t add = aigw__bucket_refill(b->refill, (now_us - last) * 1000);
            level = add >= b->capacity - level ? b->capacity : level + add;
        }
        out->limit = b->capacity;
        out->remaining = level;
        out->reset = level >= b->capacity || b->refill <= 0
                         ? 0
                         : (double)(b->capacity - level) / (double)b->refill;
    }
    freeReplyObject(r);
    return AIGW_OK;
}

/* The glob pattern matching text literally. */
static void glob_escape(const char *text, char *out, size_t cap) {
    size_t n = 0;
    for (; *text && n + 3 < cap; text++) {
        if (strchr("*?[]\\", *text))
            out[n++] = '\\';
        out[n++] = *text;
    }
    out[n] = 0;
}

/* Distinct instances seen by a SCAN, so that each is reported once. */
typedef struct seen {
    char **items;
    size_t n, cap;
} seen;

static int seen_add(seen *s, const char *item, size_t len) {
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->items[i]) == len && memcmp(s->items[i], item, len) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **grown = aigw__reallocarray(s->items, cap, sizeof *grown);
        if (!grown)
            return -1;
        s->items = grown;
        s->cap = cap;
    }
    if (!(s->items[s->n] = aigw__strndup(item, len)))
        return -1;
    s->n++;
    return 1;
}

static aigw_status rd_instances(aigw__store *s, const aigw__budget *b, aigw__instance_cb cb,
                                void *ctx, aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    char pattern[1100], prefix[1100];
    snprintf(prefix, sizeof prefix, "%s%s:", rs->prefix, b->name);
    glob_escape(prefix, pattern, sizeof pattern - 1);
    strcat(pattern, "*");
    size_t plen = strlen(prefix);
    seen found = {0};
    aigw_status st = AIGW_OK;
    conn *c = pool_get(rs);
    char cursor[32] = "0";
    do {
        if (ensure(rs, c, err)) {
            st = AIGW_ECONNECT;
            break;
        }
        redisReply *r = redisCommand(c->ctx, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r) {
            st = aigw__error_set(err, AIGW_ECONNECT, "budget store: redis %s:%d: %s", rs->host,
                                 rs->port, c->ctx->errstr);
            drop(c);
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            st = aigw__error_set(err, AIGW_EBADRESPONSE, "budget store: unexpected SCAN reply");
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements && !st; i++) {
            const redisReply *k = keys->element[i];
            if (k->type != REDIS_REPLY_STRING || k->len < plen)
                continue;
            const char *inst = k->str + plen;
            size_t len = k->len - plen;
            if (b->type == AIGW__LIMIT_WINDOW) { /* <instance>:w<N> */
                const char *w = inst + len;
                while (w > inst && w[-1] >= '0' && w[-1] <= '9')
                    w--;
                if (w - inst < 2 || w[-1] != 'w' || w[-2] != ':')
                    continue;
                len = (size_t)(w - 2 - inst);
            }
            int added = seen_add(&found, inst, len);
            if (added < 0)
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
        freeReplyObject(r);
    } while (!st && strcmp(cursor, "0") != 0);
    pool_put(rs, c);
    for (size_t i = 0; i < found.n; i++) {
        if (!st)
            cb(found.items[i], ctx);
        aigw__free(found.items[i]);
    }
    aigw__free(found.items);
    return st;
}

static void rd_free(aigw__store *s) {
    redis_store *rs = (redis_store *)s;
    for (size_t i = 0; i < rs->pool_size; i++)
        drop(&rs->pool[i]);
    aigw__free(rs->pool);
    pthread_mutex_destroy(&rs->mu);
    pthread_cond_destroy(&rs->cv);
    aigw__free(rs->host);
    aigw__free(rs->password);
    aigw__free(rs->prefix);
    aigw__free(rs);
}

static const aigw__store_ops redis_ops = {rd_reserve, rd_settle, rd_status,
                                          rd_instances, rd_free, NULL};

aigw_status aigw__store_redis_new(const aigw__redis_options *opt, aigw__store **out,
                                  aigw_error **err) {
    *out = NULL;
    aigw__redis_options o = opt ? *opt : (aigw__redis_options){0};
    redis_store *rs = aigw__calloc(1, sizeof *rs);
    if (!rs)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    rs->base.ops = &redis_ops;
    rs->port = o.port > 0 ? o.port : 6379;
    rs->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 250;
    rs->pool_size = o.pool_size > 0 ? (size_t)o.pool_size : 4;
    rs->host = aigw__strdup(o.host ? o.host : "127.0.0.1");
    rs->prefix = aigw__strdup(o.prefix ? o.prefix : "aigw:budget:");
    rs->password = o.password ? aigw__strdup(o.password) : NULL;
    rs->pool = aigw__calloc(rs->pool_size, sizeof *rs->pool);
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    if (!rs->host || !rs->prefix || !rs->pool || (o.password && !rs->password)) {
        rd_free(&rs->base);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    sha1_hex(reserve_lua, rs->reserve_sha);
    sha1_hex(settle_lua, rs->settle_sha);
    *out = &rs->base;
    return AIGW_OK;
}
