/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis budget store; see store_redis.h. */
#include "account/store_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/errors.h"

/* The bucket refill both scripts start a bucket's update with (level,
 * last from the hash, brought up to now). */
#define LUA_REFILL                                                                                 \
    "    local v = redis.call('HMGET', KEYS[k], 'l', 't')\n"                                       \
    "    level, last = tonumber(v[1]), tonumber(v[2])\n"                                           \
    "    if level == nil or last == nil then level = lim; last = now end\n"                        \
    "    if now > last then\n"                                                                     \
    "      if level >= lim or refill <= 0 then last = now\n"                                       \
    "      else\n"                                                                                 \
    "        local add = math.floor((now - last) * refill / 1000000)\n"                            \
    "        if add >= lim - level then level = lim; last = now\n"                                 \
    "        elseif add > 0 then level = level + add;"                                             \
    " last = last + math.floor(add * 1000000 / refill) end\n"                                      \
    "      end\n"                                                                                  \
    "    end\n"

/* KEYS[1] = the reservation's id key, then the counters. ARGV[1] = now
 * (µs), ARGV[2] = the id key's time to live (ms); then for each counter 5
 * values: type (0 bucket, 1 window), amount, limit, refill per second, ttl
 * (ms: a window's; a bucket's margin over its time to fill up; 0 = no
 * expiry). At most once per id: an id already applied answers {3} without
 * applying again, a canceled one {2}. Returns {1, remaining (string) per
 * counter} or {0, index, retry_after (string)} (nothing taken, no id
 * recorded). */
static const char reserve_lua[] =
    "local st = redis.call('GET', KEYS[1])\n"
    "if st == 'c' then return {2} end\n"
    "if st then\n" /* a retry: admitted as it was, with the counters' room as they are */
    "  local out = {3}\n"
    "  for i = 1, #KEYS - 1 do\n"
    "    local b = 2 + (i - 1) * 5\n"
    "    local lim = tonumber(ARGV[b + 3])\n"
    "    if tonumber(ARGV[b + 1]) == 0 then\n"
    "      out[i + 1] = redis.call('HGET', KEYS[i + 1], 'l') or string.format('%.0f', lim)\n"
    "    else\n"
    "      out[i + 1] = string.format('%.0f', lim - (tonumber(redis.call('GET', KEYS[i + 1])"
    " or '0') or 0))\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local now = tonumber(ARGV[1])\n"
    "local lv, lt = {}, {}\n"
    "for i = 1, #KEYS - 1 do\n"
    "  local k, b = i + 1, 2 + (i - 1) * 5\n"
    "  local typ, amt, lim, refill = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]),"
    " tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])\n"
    "  if typ == 0 then\n"
    "    local level, last\n" LUA_REFILL "    lv[i] = level; lt[i] = last\n"
    "    if amt > level then\n"
    "      local ra = -1\n"
    "      if amt <= lim and refill > 0 then\n"
    "        ra = (amt - level) / refill - (now - last) / 1000000\n"
    "        if ra < 0 then ra = 0 end\n"
    "      end\n"
    "      return {0, i, string.format('%.9f', ra)}\n"
    "    end\n"
    "  else\n"
    "    local used = tonumber(redis.call('GET', KEYS[k]) or '0') or 0\n"
    "    lv[i] = used\n"
    "    if amt > lim - used then\n"
    "      if amt > lim then return {0, i, '-1'} end\n"
    "      return {0, i, 'w'}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {1}\n"
    "for i = 1, #KEYS - 1 do\n"
    "  local k, b = i + 1, 2 + (i - 1) * 5\n"
    "  local typ, amt, ttl = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 5])\n"
    "  if typ == 0 then\n"
    "    local lim, refill = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])\n"
    "    out[i + 1] = string.format('%.0f', lv[i] - amt)\n"
    "    redis.call('HSET', KEYS[k], 'l', string.format('%.0f', lv[i] - amt),"
    " 't', string.format('%.0f', lt[i]))\n"
    "    if ttl > 0 then ttl = ttl + math.ceil((lim - lv[i] + amt) * 1000 / refill) end\n"
    "  else\n"
    "    out[i + 1] = string.format('%.0f', tonumber(ARGV[b + 3]) - lv[i] - amt)\n"
    "    redis.call('SET', KEYS[k], string.format('%.0f', lv[i] + amt))\n"
    "  end\n"
    "  if ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) else redis.call('PERSIST', KEYS[k]) "
    "end\n"
    "end\n"
    "redis.call('SET', KEYS[1], 'a', 'PX', ARGV[2])\n"
    "return out\n";

/* KEYS as reserve's; ARGV[1] = now (µs), ARGV[2] = the id key's ttl (ms),
 * ARGV[3] = 's' (settle) or 'c' (cancel); per counter: type, delta (> 0
 * charges), limit, refill, ttl margin. Buckets refill first, then lose
 * delta (capped at the limit); windows gain delta (floored at 0).
 * A settle applies unless the id was settled or canceled already (an id
 * whose mark expired, or a Redis that lost it, is settled: the client
 * settles only reservations Redis confirmed). A cancel refunds only a
 * reservation that was applied, and marks the id canceled either way, so
 * that the reservation, arriving late, is a no-op. Returns 1 when it
 * applied, 0 when it did nothing. */
static const char settle_lua[] =
    "local st = redis.call('GET', KEYS[1])\n"
    "local mode = ARGV[3]\n"
    "if mode == 's' then\n"
    "  if st == 's' or st == 'c' then return 0 end\n"
    "elseif st ~= 'a' then\n"
    "  redis.call('SET', KEYS[1], 'c', 'PX', ARGV[2])\n"
    "  return 0\n"
    "end\n"
    "local now = tonumber(ARGV[1])\n"
    "for i = 1, #KEYS - 1 do\n"
    "  local k, b = i + 1, 3 + (i - 1) * 5\n"
    "  local typ, d, lim, refill, ttl = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]),"
    " tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])\n"
    "  if typ == 0 then\n"
    "    local level, last\n" LUA_REFILL "    level = level - d\n"
    "    if level > lim then level = lim end\n"
    "    redis.call('HSET', KEYS[k], 'l', string.format('%.0f', level),"
    " 't', string.format('%.0f', last))\n"
    "    if ttl > 0 then ttl = ttl + math.ceil((lim - level) * 1000 / refill) end\n"
    "  else\n"
    "    local used = (tonumber(redis.call('GET', KEYS[k]) or '0') or 0) + d\n"
    "    if used < 0 then used = 0 end\n"
    "    redis.call('SET', KEYS[k], string.format('%.0f', used))\n"
    "  end\n"
    "  if ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) else redis.call('PERSIST', KEYS[k]) "
    "end\n"
    "end\n"
    "redis.call('SET', KEYS[1], mode, 'PX', ARGV[2])\n"
    "return 1\n";

typedef struct conn {
    redisContext *ctx;
    int busy;
    long tv_ms; /* the socket timeout set on ctx */
} conn;

/* A settlement or a cancel to send (again) until Redis answers. */
typedef struct pending {
    struct pending *next;
    const char **argv;
    size_t *lens;
    char *text;
    int argc;
} pending;

typedef struct redis_store {
    aigw__store base;
    char *host, *password, *prefix;
    int port, timeout_ms;
    long long marker_ttl_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *pool;
    size_t pool_size;
    char reserve_sha[41], settle_sha[41];
    uint64_t nonce;          /* random, this store's: ids are nonce-serial */
    _Atomic uint64_t serial; /* reservations made */
    /* the recovery queue and its thread */
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    pending *head, *tail;
    size_t n_pending;
    int thread_started, stopping;
    pthread_t thread;
    unsigned long long recovered, lost;
} redis_store;

#define NS 1000000000LL
#define TTL_MARGIN_MS 60000LL
#define MAX_PENDING 100000
#define RETRY_PAUSE_MS 200

static void sha1_hex(const char *text, char out[41]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)text, strlen(text), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the pool ---- */

/* A free connection, waiting no later than deadline (monotonic ms); NULL
 * when none came free in time. */
static conn *pool_get(redis_store *rs, long long deadline) {
    pthread_mutex_lock(&rs->mu);
    for (;;) {
        for (size_t i = 0; i < rs->pool_size; i++) {
            if (!rs->pool[i].busy) {
                rs->pool[i].busy = 1;
                pthread_mutex_unlock(&rs->mu);
                return &rs->pool[i];
            }
        }
        long long left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rs->cv, &rs->mu, &ts);
    }
    pthread_mutex_unlock(&rs->mu);
    return NULL;
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

static struct timeval tv_of(long ms) {
    if (ms < 1)
        ms = 1;
    return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

/* Sets c's socket timeout to what is left before deadline, when that is
 * well off what is set (within a tenth of the store timeout: no system call
 * on most commands). */
static void fit_timeout(redis_store *rs, conn *c, long long deadline) {
    long left = (long)(deadline - mono_ms());
    if (left < 1)
        left = 1;
    long slack = rs->timeout_ms / 10;
    if (left + slack < c->tv_ms || (left > c->tv_ms + slack && c->tv_ms < rs->timeout_ms)) {
        redisSetTimeout(c->ctx, tv_of(left));
        c->tv_ms = left;
    }
}

/* Connects c if it is not, by deadline; 0 on success, -1 with the reason in
 * err (nothing was sent). */
static int ensure(redis_store *rs, conn *c, long long deadline, aigw_error **err) {
    if (c->ctx && !c->ctx->err)
        return 0;
    drop(c);
    long left = (long)(deadline - mono_ms());
    if (left <= 0) {
        aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: timeout after %d ms",
                        rs->host, rs->port, rs->timeout_ms);
        return -1;
    }
    redisContext *ctx = redisConnectWithTimeout(rs->host, rs->port, tv_of(left));
    if (!ctx || ctx->err) {
        aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: cannot connect: %s",
                        rs->host, rs->port, ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisFree(ctx);
        return -1;
    }
    left = (long)(deadline - mono_ms());
    redisSetTimeout(ctx, tv_of(left));
    c->tv_ms = left;
    if (rs->password) {
        redisReply *r = redisCommand(ctx, "AUTH %s", rs->password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: AUTH refused", rs->host,
                            rs->port);
            redisFree(ctx);
            return -1;
        }
    }
    c->ctx = ctx;
    return 0;
}

/* Whether c's failure was its timeout (else the connection broke). */
static int timed_out(const redisContext *ctx, int saved_errno) {
    return ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
                                        strstr(ctx->errstr, "temporarily unavailable"));
}

/* Whether an error reply refused the command before it ran and may go
 * away (a restarted Redis loading its data, a busy script, a read-only
 * replica, memory, persistence errors): worth sending again. */
static int transient(const char *e) {
    static const char *const codes[] = {"LOADING",     "BUSY",       "MISCONF",  "READONLY",
                                        "OOM",         "MASTERDOWN", "TRYAGAIN", "NOAUTH",
                                        "CLUSTERDOWN", "NOREPLICAS"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = strlen(codes[i]);
        if (!strncmp(e, codes[i], n) && (e[n] == ' ' || !e[n]))
            return 1;
    }
    return 0;
}

/* How run() ended. */
enum { RUN_OK, RUN_NOT_SENT, RUN_UNKNOWN, RUN_ERROR };

/* Runs a script by SHA on c, loading it with EVAL on NOSCRIPT, within
 * deadline. A pooled connection that turns out broken (closed, reset: not
 * a timeout) is replaced once, with the same command — safe because every
 * script applies an id at most once. *how: RUN_OK (reply returned),
 * RUN_NOT_SENT (could not connect, or refused before running, e.g. LOADING:
 * nothing applied), RUN_UNKNOWN (sent, no answer: it may or may not have
 * been applied), RUN_ERROR (the script failed); err names Redis and what
 * failed. */
static redisReply *run(redis_store *rs, conn *c, const char *what, const char *sha,
                       const char *script, int argc, const char **argv, size_t *lens,
                       long long deadline, int *how, aigw_error **err) {
    redisReply *reply = NULL;
    *how = RUN_NOT_SENT;
    for (int attempt = 0; attempt < 2 && !reply; attempt++) {
        int was_connected = c->ctx != NULL && !c->ctx->err;
        if (ensure(rs, c, deadline, err))
            break;
        fit_timeout(rs, c, deadline);
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
            int saved = errno;
            *how = RUN_UNKNOWN;
            int timeout = timed_out(c->ctx, saved);
            int retry = was_connected && attempt == 0 && !timeout && mono_ms() < deadline;
            if (!retry) {
                if (timeout)
                    aigw__error_set(err, AIGW_ECONNECT,
                                    "budget store redis %s:%d: timeout after %d ms (%s)", rs->host,
                                    rs->port, rs->timeout_ms, what);
                else
                    aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: %s (%s)",
                                    rs->host, rs->port,
                                    c->ctx->err == REDIS_ERR_EOF ? "connection closed"
                                    : c->ctx->errstr[0]          ? c->ctx->errstr
                                                                 : "I/O error",
                                    what);
            }
            drop(c);
            if (!retry)
                break;
        }
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && transient(reply->str)) {
        aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: %.200s (%s)", rs->host,
                        rs->port, reply->str, what);
        freeReplyObject(reply);
        reply = NULL;
        *how = RUN_NOT_SENT; /* refused before the script ran: nothing applied */
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        aigw__error_set(err, AIGW_EBADRESPONSE,
                        "budget store redis %s:%d: script failed (%s): %.200s", rs->host, rs->port,
                        what, reply->str);
        freeReplyObject(reply);
        reply = NULL;
        *how = RUN_ERROR;
    } else if (reply) {
        *how = RUN_OK;
    }
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

/* The id key of reservation `serial`: <prefix>id:<nonce>-<serial>. */
static char *putid(args *a, char *p, redis_store *rs, uint64_t serial) {
    int len = sprintf(p, "%sid:%016" PRIx64 "-%" PRIu64, rs->prefix, rs->nonce, serial);
    a->argv[a->argc] = p;
    a->lens[a->argc++] = (size_t)len;
    return p + len + 1;
}

static aigw_status args_new(redis_store *rs, const aigw__store_key *keys, size_t n, args *a,
                            aigw_error **err) {
    size_t text = 160 + 2 * strlen(rs->prefix);
    for (size_t i = 0; i < n; i++)
        text += strlen(rs->prefix) + strlen(keys[i].budget->name) + strlen(keys[i].instance) + 32 +
                5 * 24;
    memset(a, 0, sizeof *a);
    a->argv = aigw__calloc(8 + 6 * n, sizeof *a->argv);
    a->lens = aigw__calloc(8 + 6 * n, sizeof *a->lens);
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

/* Builds the settle script's arguments (mode 's' or 'c') for keys[0..n)
 * with windows win[] and deltas d[]. */
static aigw_status settle_args(redis_store *rs, const aigw__store_key *keys, size_t n,
                               const int64_t *win, const int64_t *ends, const int64_t *d,
                               uint64_t serial, char mode, int64_t now, args *a, aigw_error **err) {
    aigw_status st = args_new(rs, keys, n, a, err);
    if (st)
        return st;
    char *p = a->text;
    p = putnum(a, p, (long long)n + 1);
    p = putid(a, p, rs, serial);
    for (size_t j = 0; j < n; j++)
        p = putkey(a, p, rs, &keys[j], win[j]);
    p = putnum(a, p, now / 1000);
    p = putnum(a, p, rs->marker_ttl_ms);
    p = put(a, p, mode == 'c' ? "c" : "s", 1);
    for (size_t j = 0; j < n; j++) {
        const aigw__budget *b = keys[j].budget;
        int bucket = b->type == AIGW__LIMIT_BUCKET;
        p = putnum(a, p, bucket ? 0 : 1);
        p = putnum(a, p, d[j]);
        p = putnum(a, p, bucket ? b->capacity : b->max);
        p = putnum(a, p, bucket ? b->refill : 0);
        p = putnum(a, p, ttl_ms(b, now, ends[j]));
    }
    return AIGW_OK;
}

/* ---- recovery: settlements and cancels sent until Redis answers ---- */

static void pending_free(pending *p) {
    aigw__free(p->argv);
    aigw__free(p->lens);
    aigw__free(p->text);
    aigw__free(p);
}

/* Sends one queued command on c; 1 when Redis answered (applied or not: it
 * is done with), 0 to try again later. */
static int pending_send(redis_store *rs, conn *c, pending *p) {
    int how;
    aigw_error *err = NULL;
    redisReply *r = run(rs, c, "recovery", rs->settle_sha, settle_lua, p->argc, p->argv, p->lens,
                        mono_ms() + rs->timeout_ms, &how, &err);
    aigw_error_free(err);
    if (r)
        freeReplyObject(r);
    return how == RUN_OK || how == RUN_ERROR; /* a script error will not get better */
}

static void *recovery_main(void *arg) {
    redis_store *rs = arg;
    conn c = {0};
    pthread_mutex_lock(&rs->pmu);
    for (;;) {
        if (!rs->head) {
            if (rs->stopping)
                break;
            pthread_cond_wait(&rs->pcv, &rs->pmu);
            continue;
        }
        pending *p = rs->head;
        rs->head = p->next;
        if (!rs->head)
            rs->tail = NULL;
        pthread_mutex_unlock(&rs->pmu);
        int done = pending_send(rs, &c, p);
        pthread_mutex_lock(&rs->pmu);
        if (done) {
            rs->n_pending--;
            rs->recovered++;
            pending_free(p);
            continue;
        }
        p->next = rs->head; /* first again, in order */
        rs->head = p;
        if (!rs->tail)
            rs->tail = p;
        if (rs->stopping) { /* one last try failed: give the rest up */
            while (rs->head) {
                pending *q = rs->head;
                rs->head = q->next;
                pending_free(q);
                rs->lost++;
            }
            rs->tail = NULL;
            rs->n_pending = 0;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += RETRY_PAUSE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rs->pcv, &rs->pmu, &ts);
    }
    pthread_mutex_unlock(&rs->pmu);
    drop(&c);
    return NULL;
}

static void note_lost(redis_store *rs) {
    pthread_mutex_lock(&rs->pmu);
    rs->lost++;
    pthread_mutex_unlock(&rs->pmu);
}

/* Queues a's command (taking a's memory) to be sent until Redis answers. */
static void pending_push(redis_store *rs, args *a) {
    pending *p = aigw__calloc(1, sizeof *p);
    pthread_mutex_lock(&rs->pmu);
    if (!p || rs->n_pending >= MAX_PENDING || rs->stopping) {
        rs->lost++;
        pthread_mutex_unlock(&rs->pmu);
        aigw__free(p);
        args_free(a);
        return;
    }
    if (!rs->thread_started) {
        if (pthread_create(&rs->thread, NULL, recovery_main, rs) != 0) {
            rs->lost++;
            pthread_mutex_unlock(&rs->pmu);
            aigw__free(p);
            args_free(a);
            return;
        }
        rs->thread_started = 1;
    }
    p->argv = a->argv;
    p->lens = a->lens;
    p->text = a->text;
    p->argc = a->argc;
    if (rs->tail)
        rs->tail->next = p;
    else
        rs->head = p;
    rs->tail = p;
    rs->n_pending++;
    pthread_cond_signal(&rs->pcv);
    pthread_mutex_unlock(&rs->pmu);
}

/* ---- reserve and settle ---- */

static aigw_status fail_by_policy(const aigw__store_key *keys, size_t n, aigw__hold *holds,
                                  aigw__refusal *refusal, const aigw_error *why) {
    if (refusal)
        snprintf(refusal->why, sizeof refusal->why, "%s",
                 why ? aigw_error_message(why) : "budget store redis: unreachable");
    for (size_t i = 0; i < n; i++) {
        if (!keys[i].budget->fail_open) {
            if (refusal) {
                refusal->index = i;
                refusal->retry_after = 1;
                refusal->store_error = 1;
            }
            return AIGW_ERATELIMIT;
        }
    }
    for (size_t i = 0; i < n; i++)
        holds[i].skipped = 1;
    return AIGW_OK;
}

/* run() on a connection from the pool, within deadline. None free in
 * time: NULL, *how RUN_NOT_SENT and err says so. */
static redisReply *run_pooled(redis_store *rs, const char *what, const char *sha,
                              const char *script, args *a, long long deadline, int *how,
                              aigw_error **err) {
    *how = RUN_NOT_SENT;
    conn *c = pool_get(rs, deadline);
    if (!c) {
        aigw__error_set(err, AIGW_ECONNECT,
                        "budget store redis %s:%d: no connection free within %d ms (pool_size "
                        "%zu)",
                        rs->host, rs->port, rs->timeout_ms, rs->pool_size);
        return NULL;
    }
    redisReply *r = run(rs, c, what, sha, script, a->argc, a->argv, a->lens, deadline, how, err);
    pool_put(rs, c);
    return r;
}

static aigw_status rd_reserve(aigw__store *s, const aigw__store_key *keys, const int64_t *amounts,
                              size_t n, int64_t now, aigw__hold *holds, aigw__refusal *refusal,
                              aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    if (n > AIGW__STORE_MAX_KEYS)
        return aigw__error_set(err, AIGW_EINVAL, "a request may reserve in at most %d budgets",
                               AIGW__STORE_MAX_KEYS);
    long long deadline = mono_ms() + rs->timeout_ms;
    uint64_t serial = atomic_fetch_add(&rs->serial, 1) + 1;
    args a;
    aigw_status st = args_new(rs, keys, n, &a, err);
    if (st)
        return st;
    char *p = a.text;
    int64_t ends[AIGW__STORE_MAX_KEYS], win[AIGW__STORE_MAX_KEYS], refund[AIGW__STORE_MAX_KEYS];
    p = putnum(&a, p, (long long)n + 1);
    p = putid(&a, p, rs, serial);
    for (size_t i = 0; i < n; i++) {
        const aigw__budget *b = keys[i].budget;
        holds[i] = (aigw__hold){.amount = amounts[i], .id = serial};
        ends[i] = 0;
        if (b->type == AIGW__LIMIT_WINDOW)
            holds[i].window = aigw__window_index(b->per, now, &ends[i]);
        win[i] = holds[i].window;
        refund[i] = -amounts[i];
        p = putkey(&a, p, rs, &keys[i], holds[i].window);
    }
    p = putnum(&a, p, now / 1000);
    p = putnum(&a, p, rs->marker_ttl_ms);
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
    int how;
    redisReply *r =
        run_pooled(rs, "reserve", rs->reserve_sha, reserve_lua, &a, deadline, &how, &local);
    args_free(&a);
    if (!r) {
        if (how == RUN_UNKNOWN) {
            /* It may have been applied (or be applied when a frozen Redis
             * wakes): cancel it once Redis answers again. */
            args cancel;
            if (settle_args(rs, keys, n, win, ends, refund, serial, 'c', now, &cancel, NULL) ==
                AIGW_OK)
                pending_push(rs, &cancel);
            else
                note_lost(rs);
        }
        st = fail_by_policy(keys, n, holds, refusal, local);
        aigw_error_free(local);
        return st;
    }
    st = AIGW_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "budget store redis %s:%d: unexpected reply",
                             rs->host, rs->port);
    } else if (r->element[0]->integer == 0 && r->elements == 3) {
        size_t i = (size_t)(r->element[1]->integer - 1);
        if (i >= n)
            i = 0;
        const char *ra = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "-1";
        double retry = ra[0] == 'w' ? (double)(ends[i] - now) / (double)NS : atof(ra);
        if (refusal) {
            refusal->index = i;
            refusal->retry_after = retry;
            refusal->store_error = 0;
        }
        st = AIGW_ERATELIMIT;
    } else if ((r->element[0]->integer == 1 || r->element[0]->integer == 3) &&
               r->elements == n + 1) {
        for (size_t i = 0; i < n; i++) {
            if (r->element[i + 1]->type != REDIS_REPLY_STRING)
                continue;
            holds[i].remaining = atoll(r->element[i + 1]->str);
            holds[i].has_remaining = 1;
        }
    } else if (r->element[0]->integer == 2) { /* canceled before it arrived */
        aigw__error_set(&local, AIGW_ECONNECT,
                        "budget store redis %s:%d: the reservation was canceled", rs->host,
                        rs->port);
        st = fail_by_policy(keys, n, holds, refusal, local);
        aigw_error_free(local);
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
    long long deadline = mono_ms() + rs->timeout_ms;
    aigw__store_key sub[AIGW__STORE_MAX_KEYS];
    for (size_t j = 0; j < m; j++)
        sub[j] = keys[idx[j]];
    args a;
    aigw_status st = settle_args(rs, sub, m, win, ends, delta, holds[idx[0]].id, 's', now, &a, err);
    if (st)
        return st;
    aigw_error *local = NULL;
    int how;
    redisReply *r =
        run_pooled(rs, "settle", rs->settle_sha, settle_lua, &a, deadline, &how, &local);
    if (r) {
        args_free(&a);
        freeReplyObject(r);
        return AIGW_OK;
    }
    if (how == RUN_ERROR) {
        args_free(&a);
    } else {
        /* Not sent, or no answer: sent again (at most once applied) until
         * Redis answers. */
        pending_push(rs, &a);
        aigw__error_append(local, "; the settlement is queued and re-sent until Redis answers");
    }
    st = aigw_error_status(local);
    if (err && !*err)
        *err = local;
    else
        aigw_error_free(local);
    return st;
}

void aigw__store_redis_id_key(aigw__store *s, uint64_t serial, char *out, size_t cap) {
    redis_store *rs = (redis_store *)s;
    snprintf(out, cap, "%sid:%016" PRIx64 "-%" PRIu64, rs->prefix, rs->nonce, serial);
}

void aigw__store_redis_next_serial(aigw__store *s, uint64_t serial) {
    atomic_store(&((redis_store *)s)->serial, serial - 1);
}

aigw_status aigw__store_redis_cancel(aigw__store *s, const aigw__store_key *keys,
                                     const aigw__hold *holds, size_t n, int64_t now,
                                     aigw_error **err) {
    redis_store *rs = (redis_store *)s;
    if (!n || n > AIGW__STORE_MAX_KEYS)
        return aigw__error_set(err, AIGW_EINVAL, "nothing to cancel");
    int64_t win[AIGW__STORE_MAX_KEYS], ends[AIGW__STORE_MAX_KEYS], d[AIGW__STORE_MAX_KEYS];
    for (size_t i = 0; i < n; i++) {
        win[i] = holds[i].window;
        ends[i] = 0;
        if (keys[i].budget->type == AIGW__LIMIT_WINDOW)
            aigw__window_index(keys[i].budget->per, now, &ends[i]);
        d[i] = -holds[i].amount;
    }
    args a;
    aigw_status st = settle_args(rs, keys, n, win, ends, d, holds[0].id, 'c', now, &a, err);
    if (st)
        return st;
    long long deadline = mono_ms() + rs->timeout_ms;
    conn *c = pool_get(rs, deadline);
    redisReply *r = NULL;
    int how;
    if (!c) {
        st = aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: no connection free",
                             rs->host, rs->port);
    } else {
        r = run(rs, c, "cancel", rs->settle_sha, settle_lua, a.argc, a.argv, a.lens, deadline, &how,
                err);
        pool_put(rs, c);
        st = r ? AIGW_OK : AIGW_ECONNECT;
    }
    if (r)
        freeReplyObject(r);
    args_free(&a);
    return st;
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
    long long deadline = mono_ms() + rs->timeout_ms;
    conn *c = pool_get(rs, deadline);
    if (!c)
        return aigw__error_set(err, AIGW_ECONNECT,
                               "budget store redis %s:%d: no connection free within %d ms",
                               rs->host, rs->port, rs->timeout_ms);
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && !r; attempt++) {
        int was = c->ctx != NULL;
        if (ensure(rs, c, deadline, err))
            break;
        fit_timeout(rs, c, deadline);
        r = b->type == AIGW__LIMIT_WINDOW ? redisCommand(c->ctx, "GET %s", key)
                                          : redisCommand(c->ctx, "HMGET %s l t", key);
        if (!r) {
            int saved = errno;
            int retry = was && !attempt && !timed_out(c->ctx, saved) && mono_ms() < deadline;
            if (!retry)
                aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: %s (status)",
                                rs->host, rs->port,
                                timed_out(c->ctx, saved) ? "timeout" : c->ctx->errstr);
            drop(c);
            if (!retry)
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
    conn *c = pool_get(rs, mono_ms() + rs->timeout_ms);
    if (!c)
        return aigw__error_set(err, AIGW_ECONNECT,
                               "budget store redis %s:%d: no connection free within %d ms",
                               rs->host, rs->port, rs->timeout_ms);
    char cursor[32] = "0";
    do {
        long long deadline = mono_ms() + rs->timeout_ms; /* each SCAN step */
        if (ensure(rs, c, deadline, err)) {
            st = AIGW_ECONNECT;
            break;
        }
        fit_timeout(rs, c, deadline);
        redisReply *r = redisCommand(c->ctx, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r) {
            st = aigw__error_set(err, AIGW_ECONNECT, "budget store redis %s:%d: %s (listing)",
                                 rs->host, rs->port, c->ctx->errstr);
            drop(c);
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            st = aigw__error_set(err, AIGW_EBADRESPONSE,
                                 "budget store redis %s:%d: unexpected SCAN reply", rs->host,
                                 rs->port);
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
    /* The recovery thread tries what is queued once more (each within the
     * timeout, stopping at the first failure), then ends. */
    pthread_mutex_lock(&rs->pmu);
    rs->stopping = 1;
    int started = rs->thread_started;
    pthread_cond_signal(&rs->pcv);
    pthread_mutex_unlock(&rs->pmu);
    if (started)
        pthread_join(rs->thread, NULL);
    pthread_mutex_destroy(&rs->pmu);
    pthread_cond_destroy(&rs->pcv);
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

static void rd_stats(aigw__store *s, aigw__store_stats *out) {
    redis_store *rs = (redis_store *)s;
    pthread_mutex_lock(&rs->pmu);
    out->pending = rs->n_pending;
    out->recovered = rs->recovered;
    out->lost = rs->lost;
    pthread_mutex_unlock(&rs->pmu);
}

static const aigw__store_ops redis_ops = {rd_reserve,   rd_settle, rd_status,
                                          rd_instances, rd_free,   rd_stats};

/* 64 random bits: the store's part of every reservation id. */
static uint64_t random_nonce(const void *salt) {
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
            v = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* mixed in (and all there is without /dev/urandom) */
    v ^= ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16) ^
         (uint64_t)(uintptr_t)salt;
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    return v ^ (v >> 33);
}

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
    rs->marker_ttl_ms = o.marker_ttl_ms > 0 ? o.marker_ttl_ms : AIGW__REDIS_MARKER_TTL_MS;
    rs->nonce = random_nonce(rs);
    rs->pool = aigw__calloc(rs->pool_size, sizeof *rs->pool);
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    pthread_mutex_init(&rs->pmu, NULL);
    pthread_cond_init(&rs->pcv, NULL);
    if (!rs->host || !rs->prefix || !rs->pool || (o.password && !rs->password)) {
        rd_free(&rs->base);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    sha1_hex(reserve_lua, rs->reserve_sha);
    sha1_hex(settle_lua, rs->settle_sha);
    *out = &rs->base;
    return AIGW_OK;
}
