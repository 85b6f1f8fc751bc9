/* SPDX-License-Identifier: Apache-2.0 */
/* Budgets through the gateway (aigw_server_start in-process, and
 * `aigw-cli serve` processes; issue #7): 429 in OpenAI's rate_limit_exceeded
 * shape with Retry-After, x-ratelimit-*-tokens headers on JSON and SSE
 * answers, identity from gateway keys (name, team) and the configured
 * user_header, two serve processes sharing one Redis under 64 concurrent
 * callers (exact admission), and a Redis restart under load. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "aigw/aigw.h"
#include "http_client.h"
#include "budget_status.h"
#include "gateway.h"
#include "redis.h"
#include "serve_proc.h"
#include "sim.h"
#include "sim_pool.h"

#define UP_KEY "sk-upstream-budgets"
#define CI_KEY "sk-gw-budgets-ci"
#define BOT_KEY "sk-gw-budgets-bot"
#define SVC_KEY "sk-gw-budgets-svc"

static aigw_test_sim sim;
static aigw_client *client;
static aigw_server *server;
static int port;

/* Monotonic seconds. */
static double mono(void) {
    return aigw_test_now_ms() / 1e3;
}

/* Sleeps s seconds (not at all when s <= 0). */
static void sleep_s(double s) {
    aigw_test_sleep_until(aigw_test_now_ms() + s * 1e3);
}

/* The gateway keys: "ci" (team platform; trusted to name users with the
 * user header or the body's "user"), "bot" (team search) and "svc" (its
 * requests are user "svc-user", whatever they say). */
static void gateway_keys(char *out, size_t n) {
    char ci[65], bot[65], svc[65];
    aigw_test_key_sha256(CI_KEY, ci);
    aigw_test_key_sha256(BOT_KEY, bot);
    aigw_test_key_sha256(SVC_KEY, svc);
    snprintf(out, n,
             "\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\",\"team\":\"platform\","
             "\"trusted_user_header\":true},"
             "{\"sha256\":\"%s\",\"name\":\"bot\",\"team\":\"search\"},"
             "{\"sha256\":\"%s\",\"name\":\"svc\",\"user\":\"svc-user\"}]",
             ci, bot, svc);
}

static void setup(void) {
    curl_global_init(CURL_GLOBAL_ALL);
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
}

/* What a test started, stopped here also when an assertion ended it. */
static aigw_test_serve gws[2];
static aigw_test_redis redis;

static void teardown(void) {
    for (size_t i = 0; i < 2; i++)
        if (gws[i].pid > 0)
            aigw_test_serve_stop(&gws[i], 0);
    aigw_test_redis_stop(&redis);
    aigw_test_gateway_stop(server, 1000);
    server = NULL;
    aigw_client_free(client);
    client = NULL;
    aigw_test_sim_stop(&sim);
}

/* An in-process gateway over the simulator ("sim" backend, the default)
 * with `budgets` and gateway settings `gateway_extra` (may be ""). */
static void gw_start(const char *budgets, const char *gateway_extra) {
    char keys[512], config[8192];
    gateway_keys(keys, sizeof keys);
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\","
             "\"api_key\":\"%s\""
             "}},\"default_backend\":\"sim\",\"gateway\":{%s%s},\"budgets\":%s}",
             sim.base_url, UP_KEY, keys, gateway_extra, budgets);
    client = aigw_test_client_new(config);
    server = aigw_test_gateway_start(client, &port);
}

/* ---- HTTP helpers ---- */

/* The value of response header `name` (case-insensitive) in raw headers
 * `h`, copied into out; NULL when absent. The last one wins (after a
 * 100-continue, say). */
static const char *header(const char *h, const char *name, char *out, size_t cap) {
    size_t nlen = strlen(name);
    const char *found = NULL;
    for (const char *line = h; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = len - (size_t)(v - line);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            snprintf(out, cap, "%.*s", (int)vlen, v);
            found = out;
        }
        line = end ? end + 2 : NULL;
    }
    return found;
}

/* OpenAI's duration strings for x-ratelimit-reset-tokens: "6m0s", "1s",
 * "0.5s", "20ms", "1h2m3s". Returns seconds, or -1 when it is not one. */
static double duration(const char *s) {
    double total = 0;
    int parts = 0;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s))
            return -1;
        double v = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        if (!strncmp(s, "ms", 2)) {
            total += v / 1000;
            s += 2;
        } else if (*s == 'h') {
            total += v * 3600;
            s++;
        } else if (*s == 'm') {
            total += v * 60;
            s++;
        } else if (*s == 's') {
            total += v;
            s++;
        } else {
            return -1;
        }
        parts++;
    }
    return parts ? total : -1;
}

static int all_digits(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static aigw_test_resp post(int to_port, const char *key, const char *user_header,
                           const char *body) {
    char auth[128], user[128];
    const char *hdrs[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hdrs[n++] = auth;
    }
    if (user_header) {
        snprintf(user, sizeof user, "x-user-id: %s", user_header);
        hdrs[n++] = user;
    }
    return aigw_test_http(to_port, "POST", "/v1/chat/completions", hdrs, body);
}

/* 429 {"error":{"type":"tokens","code":"rate_limit_exceeded","message":
 * "... <budget> ..."}} with a whole-seconds Retry-After in [1, max_retry]
 * (max_retry 0: any; < 0: not checked, for requests that can never fit). */
static void expect_429(const aigw_test_resp *r, const char *budget, long max_retry,
                       const char *what) {
    cr_expect_eq(r->status, 429, "%s: HTTP %ld %s", what, r->status, r->body);
    json_object *o = json_tokener_parse(r->body);
    cr_expect_not_null(o, "%s: not JSON: %s", what, r->body);
    const char *code = aigw_test_json_str_at(o, "error.code");
    const char *type = aigw_test_json_str_at(o, "error.type");
    const char *message = aigw_test_json_str_at(o, "error.message");
    cr_expect(code && !strcmp(code, "rate_limit_exceeded"), "%s: code in %s", what, r->body);
    cr_expect(type && !strcmp(type, "tokens"), "%s: type in %s", what, r->body);
    cr_expect(message && strstr(message, budget), "%s: the message does not name %s: %s", what,
              budget, r->body);
    json_object_put(o);
    if (max_retry < 0)
        return;
    char v[64];
    const char *ra = header(r->headers, "retry-after", v, sizeof v);
    cr_expect_not_null(ra, "%s: no Retry-After in\n%s", what, r->headers);
    if (ra) {
        cr_expect(all_digits(ra), "%s: Retry-After %s is not whole seconds", what, ra);
        long s = atol(ra);
        cr_expect(s >= 1 && (!max_retry || s <= max_retry), "%s: Retry-After %ld", what, s);
    }
}

/* x-ratelimit-*-tokens: limit `limit`, remaining in [lo, limit], reset a
 * duration in (0, max_reset]. */
static void expect_ratelimit_headers(const aigw_test_resp *r, double limit, double lo,
                                     double max_reset, const char *what) {
    char v[64];
    const char *l = header(r->headers, "x-ratelimit-limit-tokens", v, sizeof v);
    cr_expect_not_null(l, "%s: no x-ratelimit-limit-tokens in\n%s", what, r->headers);
    if (l)
        cr_expect_float_eq(atof(l), limit, 1e-9, "%s: limit %s", what, l);
    const char *rem = header(r->headers, "x-ratelimit-remaining-tokens", v, sizeof v);
    cr_expect_not_null(rem, "%s: no x-ratelimit-remaining-tokens", what);
    if (rem) {
        cr_expect(all_digits(rem) || (rem[0] == '-' && all_digits(rem + 1)),
                  "%s: remaining %s is not an integer", what, rem);
        cr_expect(atof(rem) >= lo - 1e-9 && atof(rem) <= limit, "%s: remaining %s", what, rem);
    }
    const char *reset = header(r->headers, "x-ratelimit-reset-tokens", v, sizeof v);
    cr_expect_not_null(reset, "%s: no x-ratelimit-reset-tokens", what);
    if (reset) {
        double d = duration(reset);
        cr_expect(d >= 0 && d <= max_reset, "%s: reset %s (%f s)", what, reset, d);
    }
}

static double remaining(aigw_client *c, const char *name, const char *instance) {
    return aigw_test_budget_counter(c, name, instance, "remaining");
}

#define CHAT(max, extra)                                                                           \
    "{\"model\":\"sim/gpt-4o-mini\",\"max_tokens\":" #max ",\"messages\":[{\"role\":\"system\","   \
    "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hello there "                      \
    "friend\"}]" extra "}"

TestSuite(budgets_serve, .init = setup, .fini = teardown, .timeout = 80);

/* ---- refusals and headers ---- */

Test(budgets_serve, a_refusal_is_an_openai_429_and_answers_carry_ratelimit_headers) {
    gw_start("[{\"name\":\"gw-tight\",\"cost\":\"output_tokens\",\"limit\":{\"type\":"
             "\"token_bucket\",\"capacity\":100,\"refill_per_second\":1}},"
             "{\"name\":\"gw-spend\",\"cost\":\"input_tokens + "
             "4*output_tokens\",\"limit\":{"
             "\"type\":\"token_bucket\",\"capacity\":10000,\"refill_per_second\":0}}]",
             "");
    /* JSON: 40 reserved, 4 spent */
    aigw_test_resp r = post(port, CI_KEY, NULL, CHAT(40, ""));
    cr_assert_eq(r.status, 200, "%s", r.body);
    /* the tightest budget is gw-tight (least share left) */
    expect_ratelimit_headers(&r, 100, 56, 100, "JSON");
    aigw_test_resp_free(&r);
    /* SSE: the headers come before the stream */
    r = post(port, CI_KEY, NULL, CHAT(40, ",\"stream\":true"));
    cr_assert_eq(r.status, 200, "%s", r.body);
    char v[128];
    cr_expect(header(r.headers, "content-type", v, sizeof v) && strstr(v, "text/event-stream"),
              "%s", r.headers);
    cr_expect(strstr(r.body, "data: [DONE]") != NULL, "%s", r.body);
    expect_ratelimit_headers(&r, 100, 16, 100, "SSE");
    aigw_test_resp_free(&r);
    /* both calls settled with their real usage: 5 in, 4 out = 21 each */
    cr_expect_float_eq(remaining(client, "gw-spend", NULL), 10000 - 2 * 21, 1e-9);
    double tight = remaining(client, "gw-tight", NULL);
    cr_expect(tight >= 92 - 1e-9 && tight < 100, "gw-tight remaining %f", tight);

    /* 100 needed, about 92 left, refilling at 1/s: refused, Retry-After <= 9 s */
    long long before = aigw_test_sim_count(&sim);
    r = post(port, CI_KEY, NULL, CHAT(100, ""));
    expect_429(&r, "gw-tight", 9, "JSON");
    expect_ratelimit_headers(&r, 100, 0, 100, "JSON 429");
    aigw_test_resp_free(&r);
    r = post(port, CI_KEY, NULL, CHAT(100, ",\"stream\":true"));
    expect_429(&r, "gw-tight", 9, "SSE");
    aigw_test_resp_free(&r);
    cr_expect_eq(aigw_test_sim_count(&sim), before, "a refused request reached the upstream");
    /* more than the capacity: still a 429 naming the budget */
    r = post(port, CI_KEY, NULL, CHAT(500, ""));
    expect_429(&r, "gw-tight", -1, "never fits");
    aigw_test_resp_free(&r);
    cr_expect_eq(aigw_test_sim_count(&sim), before);
    /* embeddings are charged their input (no output: gw-tight has room) */
    const char *hdrs[] = {"Authorization: Bearer " CI_KEY, NULL};
    r = aigw_test_http(port, "POST", "/v1/embeddings", hdrs,
                       "{\"model\":\"sim/text-embedding-3-small\",\"input\":\"one two three\"}");
    cr_expect_eq(r.status, 200, "%s", r.body);
    expect_ratelimit_headers(&r, 100, 0, 100, "embeddings");
    aigw_test_resp_free(&r);
    cr_expect_float_eq(remaining(client, "gw-spend", NULL), 10000 - 2 * 21 - 3, 1e-9);
    /* /metrics counts the outcomes: 3 admitted (2 chats, 1 embedding), 3 refused */
    r = aigw_test_http(port, "GET", "/metrics", NULL, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, "aigw_budget_requests_total{outcome=\"admitted\"} 3\n") != NULL, "%s",
              r.body);
    cr_expect(strstr(r.body, "aigw_budget_requests_total{outcome=\"refused\"} 3\n") != NULL, "%s",
              r.body);
    cr_expect(strstr(r.body, "aigw_budget_store_errors_total{on_store_error=\"fail_closed\"} 0") !=
                  NULL,
              "%s", r.body);
    aigw_test_resp_free(&r);
}

/* ---- identity ---- */

Test(budgets_serve, identity_comes_from_the_key_its_team_and_the_user_header) {
    gw_start("[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1,\"refill_per_second\":0}},"
             "{\"name\":\"bot-key\",\"scope\":{\"key\":[\"bot\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":2}},"
             "{\"name\":\"team-platform\",\"scope\":{\"team\":[\"platform\"]},"
             "\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":3}}]",
             ",\"user_header\":\"x-user-id\"");
    aigw_test_resp r = post(port, CI_KEY, "alice", CHAT(10, ""));
    cr_expect_eq(r.status, 200, "alice: %s", r.body);
    aigw_test_resp_free(&r);
    r = post(port, CI_KEY, "alice", CHAT(10, ""));
    expect_429(&r, "per-user", -1, "alice again");
    aigw_test_resp_free(&r);
    /* from the body's "user" when there is no header */
    r = post(port, CI_KEY, NULL, CHAT(10, ",\"user\":\"bob\""));
    cr_expect_eq(r.status, 200, "bob: %s", r.body);
    aigw_test_resp_free(&r);
    r = post(port, CI_KEY, NULL, CHAT(10, ",\"user\":\"bob\""));
    expect_429(&r, "per-user", -1, "bob again");
    aigw_test_resp_free(&r);
    /* the header wins over the body */
    r = post(port, CI_KEY, "carol", CHAT(10, ",\"user\":\"bob\""));
    cr_expect_eq(r.status, 200, "carol (header) over bob (body): %s", r.body);
    aigw_test_resp_free(&r);
    cr_expect_float_eq(remaining(client, "per-user", "alice"), 0, 1e-9);
    cr_expect_float_eq(remaining(client, "per-user", "bob"), 0, 1e-9);
    cr_expect_float_eq(remaining(client, "per-user", "carol"), 0, 1e-9);
    /* key ci is team platform: 3 admitted so far, the 4th is refused */
    cr_expect_float_eq(remaining(client, "team-platform", NULL), 0, 1e-9);
    r = post(port, CI_KEY, NULL, CHAT(10, ""));
    expect_429(&r, "team-platform", 86400, "team platform spent");
    aigw_test_resp_free(&r);
    /* key bot (team search): its own budget, not the platform team's */
    for (int i = 0; i < 2; i++) {
        r = post(port, BOT_KEY, NULL, CHAT(10, ""));
        cr_expect_eq(r.status, 200, "bot %d: %s", i, r.body);
        aigw_test_resp_free(&r);
    }
    r = post(port, BOT_KEY, NULL, CHAT(10, ""));
    expect_429(&r, "bot-key", 86400, "bot spent");
    aigw_test_resp_free(&r);
    /* no key: 401 before any budget */
    r = post(port, NULL, NULL, CHAT(10, ""));
    cr_expect_eq(r.status, 401);
    aigw_test_resp_free(&r);
}

/* A key not trusted to name users cannot buy a fresh quota by naming
 * another user: its header and "user" field are ignored for identity
 * (the field still goes upstream as sent), said once in the log. */
Test(budgets_serve, a_forged_user_is_ignored_for_an_untrusted_key) {
    gw_start("[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":3}}]",
             ",\"user_header\":\"x-user-id\"");
    const char *forged[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) {
        char body[256];
        snprintf(body, sizeof body, CHAT(10, ",\"user\":\"%s-body\""), forged[i]);
        aigw_test_resp r = post(port, SVC_KEY, forged[i], body);
        if (i < 3)
            cr_expect_eq(r.status, 200, "svc as %s: %s", forged[i], r.body);
        else
            expect_429(&r, "per-user", 86400, "svc as a 4th user");
        aigw_test_resp_free(&r);
        if (i == 0) { /* forwarded as the caller sent it */
            char user[64];
            aigw_test_sim_last_field(&sim, "user", user, sizeof user);
            cr_expect_str_eq(user, "alice-body");
        }
    }
    /* one counter, the key's user; none for the names it made up */
    cr_expect_float_eq(remaining(client, "per-user", "svc-user"), 0, 1e-9);
    char *json = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_budget_status(client, &json, &err), AIGW_OK);
    for (int i = 0; i < 4; i++)
        cr_expect(strstr(json, forged[i]) == NULL, "%s in %s", forged[i], json);
    aigw_free(json);
    /* the trusted key names users: each its own counter */
    for (int i = 0; i < 2; i++) {
        aigw_test_resp r = post(port, CI_KEY, forged[i], CHAT(10, ""));
        cr_expect_eq(r.status, 200, "ci as %s: %s", forged[i], r.body);
        aigw_test_resp_free(&r);
    }
    cr_expect_float_eq(remaining(client, "per-user", "alice"), 2, 1e-9);
    cr_expect_float_eq(remaining(client, "per-user", "bob"), 2, 1e-9);
    /* the key bot has no user and is not trusted: the user budget does not
     * apply to it, whatever user it names */
    for (int i = 0; i < 4; i++) {
        aigw_test_resp r = post(port, BOT_KEY, "alice", CHAT(10, ""));
        cr_expect_eq(r.status, 200, "bot as alice: %s", r.body);
        aigw_test_resp_free(&r);
    }
    cr_expect_float_eq(remaining(client, "per-user", "alice"), 2, 1e-9);
}

/* In the `aigw-cli serve` process: the ignored user is logged once per
 * key, not per request. */
Test(budgets_serve, an_ignored_user_is_logged_once_per_key) {
    char keys[512], config[2048];
    gateway_keys(keys, sizeof keys);
    snprintf(config, sizeof config,
             "{\"gateway\":{%s,\"user_header\":\"x-user-id\"},\"budgets\":[{\"name\":"
             "\"per-user\",\"scope\":{\"user\":\"*\"},\"cost\":\"requests\",\"limit\":"
             "{\"type\":\"window\",\"per\":\"day\",\"max\":100}}]}",
             keys);
    aigw_test_serve *gw = &gws[0];
    const char *verbose[] = {"-v", NULL};
    cr_assert_eq(aigw_test_serve_start(gw, config, 1, verbose), 0, "serve did not start");
    for (int i = 0; i < 3; i++) {
        const char *who[] = {"x", "y", "z"};
        const char *body = "{\"model\":\"mock/echo\",\"user\":\"u\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"hi\"}]}";
        aigw_test_resp r = post(gw->port, BOT_KEY, who[i], body);
        cr_expect_eq(r.status, 200, "%s", r.body);
        aigw_test_resp_free(&r);
        r = post(gw->port, SVC_KEY, who[i], body);
        cr_expect_eq(r.status, 200, "%s", r.body);
        aigw_test_resp_free(&r);
    }
    char log[16384];
    aigw_test_serve_log(gw, log, sizeof log);
    int bot = 0, svc = 0;
    for (const char *p = log; (p = strstr(p, "key bot is not trusted to name users")); p++)
        bot++;
    for (const char *p = log; (p = strstr(p, "key svc is not trusted to name users")); p++)
        svc++;
    cr_expect_eq(bot, 1, "%s", log);
    cr_expect_eq(svc, 1, "%s", log);
    aigw_test_serve_stop(gw, 5000);
}

/* Budgets on users need a source of users no client can forge: without a
 * key that has "user" or "trusted_user_header", serve refuses the config
 * (the library, whose caller sets the user, does not). */
Test(budgets_serve, user_budgets_without_a_trusted_user_are_refused_at_load) {
    char ci[65], config[2048];
    aigw_test_key_sha256(CI_KEY, ci);
    const char *gateways[] = {"", ",\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}]"};
    const char *why[] = {"no gateway keys", "no gateway key has \"user\""};
    for (int i = 0; i < 2; i++) {
        char gw[256];
        snprintf(gw, sizeof gw, gateways[i], ci);
        snprintf(config, sizeof config,
                 "{\"gateway\":{\"user_header\":\"x-user-id\"%s},\"budgets\":["
                 "{\"name\":\"all\",\"cost\":\"requests\",\"limit\":{\"type\":\"window\","
                 "\"per\":\"day\",\"max\":9}},"
                 "{\"name\":\"bob\",\"scope\":{\"user\":[\"bob\"]},\"cost\":\"requests\","
                 "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1}}]}",
                 gw);
        /* the library takes it: its caller sets the user */
        aigw_client *c = aigw_test_client_new(config);
        aigw_server *s = NULL;
        aigw_error *err = NULL;
        aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
        o.listen = "127.0.0.1:0";
        cr_expect_eq(aigw_server_start(c, &o, &s, &err), AIGW_ECONFIG);
        const char *msg = aigw_error_message(err);
        cr_expect(strstr(msg, "budgets[1].scope.user: serve has no trusted user identity") &&
                      strstr(msg, why[i]),
                  "%s", msg);
        aigw_error_free(err);
        aigw_client_free(c);
        /* config check says the same */
        char path[] = "/tmp/aigw-user-budget-XXXXXX";
        int fd = mkstemp(path);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, config, strlen(config)), (ssize_t)strlen(config));
        close(fd);
        err = NULL;
        cr_expect_eq(aigw_config_check(path, &err), AIGW_ECONFIG);
        cr_expect(strstr(aigw_error_message(err), "budgets[1].scope.user") != NULL, "%s",
                  aigw_error_message(err));
        aigw_error_free(err);
        unlink(path);
    }
}

/* ---- two serve processes, one Redis ---- */

static void start_redis(void) {
    int rc = aigw_test_redis_start(&redis, 0);
    if (rc == 1)
        cr_skip_test("redis-server is not installed");
    cr_assert_eq(rc, 0, "redis-server did not start");
}

/* A config for `aigw-cli serve` over the mock backend with `budgets` in
 * the shared Redis. */
static void redis_config(const char *budgets, const char *gateway_extra, int timeout_ms, char *out,
                         size_t n) {
    char keys[512];
    gateway_keys(keys, sizeof keys);
    snprintf(out, n,
             "{\"gateway\":{%s%s},\"budgets\":%s,\"accounting\":{\"store\":{"
             "\"type\":\"redis\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"prefix\":\"aigw:serve:%d:\","
             "\"timeout_ms\":%d,\"pool_size\":4}}}",
             keys, gateway_extra, budgets, redis.port, (int)getpid(), timeout_ms);
}

#define MOCK_BODY(extra)                                                                           \
    "{\"model\":\"mock/"                                                                           \
    "echo\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":"                        \
    "\"a b c d\"}]" extra "}"

typedef struct caller {
    int id;
    int ports[2];
    _Atomic long long *admitted;
    _Atomic long long *by_process; /* [2] */
    char error[512];
} caller;

static void *caller_main(void *arg) {
    caller *c = arg;
    int which = c->id % 2;
    const char *hdrs[] = {"Authorization: Bearer " CI_KEY, NULL};
    for (int i = 0; i < 10000; i++) {
        int sse = (c->id + i) % 2;
        aigw_test_resp r = aigw_test_http(c->ports[which], "POST", "/v1/chat/completions", hdrs,
                                          sse ? MOCK_BODY(",\"stream\":true") : MOCK_BODY(""));
        long status = r.status;
        int ok = status == 200 && r.rc == CURLE_OK &&
                 (!sse || (strstr(r.body, "data: [DONE]") && !strstr(r.body, "\"error\"")));
        if (status == 200 && !ok)
            snprintf(c->error, sizeof c->error, "200 but broken (rc %d): %.300s", (int)r.rc,
                     r.body);
        else if (status != 200 && status != 429)
            snprintf(c->error, sizeof c->error, "HTTP %ld (rc %d): %.300s", status, (int)r.rc,
                     r.body);
        else if (status == 429 && !strstr(r.body, "exhausted")) /* not a store failure */
            snprintf(c->error, sizeof c->error, "429 for another reason: %.300s", r.body);
        aigw_test_resp_free(&r);
        if (ok) {
            atomic_fetch_add(c->admitted, 1);
            atomic_fetch_add(&c->by_process[which], 1);
        }
        if (!ok)
            break; /* refill 0: a 429 is for good */
    }
    return NULL;
}

Test(budgets_serve, two_processes_sharing_redis_admit_exactly_the_budget, .timeout = 80) {
    start_redis();
    /* Each request costs 2*4 + 1 = 9, estimated and real (mock/echo with a
     * 4-word message and max_tokens 4): exactly floor(5000/9) = 555 fit. */
    const char *budgets = "[{\"name\":\"shared\",\"cost\":\"2*output_tokens + requests\","
                          "\"limit\":{\"type\":\"token_bucket\",\"capacity\":5000,"
                          "\"refill_per_second\":0}}]";
    char config[4096];
    /* a generous timeout: a loaded machine must not turn into store errors */
    redis_config(budgets, "", 3000, config, sizeof config);
    aigw_test_serve *gw = gws;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(aigw_test_serve_start(&gw[i], config, 2, NULL), 0, "serve %d did not start",
                     i);
    }
    _Atomic long long admitted = 0, by_process[2] = {0, 0};
    pthread_t th[64];
    caller cs[64];
    for (int i = 0; i < 64; i++) {
        cs[i] = (caller){i, {gw[0].port, gw[1].port}, &admitted, by_process, ""};
        cr_assert_eq(pthread_create(&th[i], NULL, caller_main, &cs[i]), 0);
    }
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 64; i++)
        cr_expect_str_empty(cs[i].error, "caller %d: %s", i, cs[i].error);
    long long n = atomic_load(&admitted);
    cr_expect_eq(n, 5000 / 9, "%lld admitted, want %d (by process: %lld + %lld)", n, 5000 / 9,
                 (long long)atomic_load(&by_process[0]), (long long)atomic_load(&by_process[1]));
    cr_expect_leq(n * 9, 5000, "spent past the budget");
    /* (Both processes usually admit some; one that is slower to start may
     * find the budget spent, which is fine: the bound is what matters.) */
    cr_log_info("admitted by process: %lld + %lld", (long long)atomic_load(&by_process[0]),
                (long long)atomic_load(&by_process[1]));
    /* `aigw-cli budgets --json` reads the same counter from Redis */
    const char *cli = getenv("AIGW_CLI_PATH");
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' budgets --json --config '%s' 2>&1",
             cli && *cli ? cli : AIGW_CLI_PATH, gw[0].config_path);
    FILE *pf = popen(cmd, "r");
    cr_assert_not_null(pf);
    size_t got = fread(out, 1, sizeof out - 1, pf);
    out[got] = '\0';
    int cli_status = pclose(pf);
    cr_expect_eq(cli_status, 0, "aigw-cli budgets: %s", out);
    json_object *listing = json_tokener_parse(out);
    cr_expect_not_null(listing, "not JSON: %s", out);
    if (listing) {
        const char *store = aigw_test_json_str_at(listing, "store");
        cr_expect(store && !strcmp(store, "redis"), "%s", out);
        json_object *left = aigw_test_json_at(listing, "budgets.0.counters.0.remaining");
        cr_expect(left && fabs(json_object_get_double(left) - 5) < 1e-9, "%s", out);
        json_object_put(listing);
    }
    /* Redis holds what is left: 5000 - 555*9 = 5 */
    aigw_client *c = aigw_test_client_new(config);
    cr_expect_float_eq(remaining(c, "shared", NULL), 5000 - 9 * (5000 / 9), 1e-9);
    aigw_client_free(c);
    for (int i = 0; i < 2; i++) {
        int status = aigw_test_serve_stop(&gw[i], 5000);
        cr_expect(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "serve %d did not exit cleanly (%d)", i, status);
    }
    aigw_test_redis_stop(&redis);
}

/* ---- a Redis restart under load ---- */

typedef struct loader {
    int id;
    int port;
    atomic_int *stop;
    _Atomic long long *count;
    double worst; /* the slowest request, seconds */
    char error[512];
} loader;

static void *loader_main(void *arg) {
    loader *l = arg;
    const char *hdrs[] = {"Authorization: Bearer " CI_KEY,
                          l->id % 2 ? "x-user-id: c" : "x-user-id: o", NULL};
    while (!atomic_load(l->stop)) {
        double t = mono();
        aigw_test_resp r =
            aigw_test_http(l->port, "POST", "/v1/chat/completions", hdrs,
                           l->id % 4 < 2 ? MOCK_BODY("") : MOCK_BODY(",\"stream\":true"));
        double d = mono() - t;
        if (d > l->worst)
            l->worst = d;
        if (r.rc != CURLE_OK || (r.status != 200 && r.status != 429))
            snprintf(l->error, sizeof l->error, "rc %d HTTP %ld: %.300s", (int)r.rc, r.status,
                     r.body);
        /* only the fail_closed user may be refused */
        if (r.status == 429 && l->id % 2 == 0)
            snprintf(l->error, sizeof l->error, "fail_open user refused: %.300s", r.body);
        aigw_test_resp_free(&r);
        atomic_fetch_add(l->count, 1);
        sleep_s(0.002);
    }
    return NULL;
}

static long user_status(int to_port, const char *user, char *body, size_t cap) {
    aigw_test_resp r = post(to_port, CI_KEY, user, MOCK_BODY(""));
    long status = r.status;
    snprintf(body, cap, "%s", r.body);
    aigw_test_resp_free(&r);
    return status;
}

Test(budgets_serve, a_redis_restart_under_load_neither_crashes_nor_hangs, .timeout = 80) {
    start_redis();
    const char *budgets = "[{\"name\":\"closed\",\"scope\":{\"user\":[\"c\"]},\"cost\":"
                          "\"requests\","
                          "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000000},"
                          "\"on_store_error\":\"fail_closed\"},"
                          "{\"name\":\"open\",\"scope\":{\"user\":[\"o\"]},\"cost\":\"requests\","
                          "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000000},"
                          "\"on_store_error\":\"fail_open\"}]";
    char config[4096];
    redis_config(budgets, ",\"user_header\":\"x-user-id\"", 250, config, sizeof config);
    aigw_test_serve *gw = &gws[0];
    const char *verbose[] = {"-v", NULL};
    cr_assert_eq(aigw_test_serve_start(gw, config, 2, verbose), 0, "serve did not start");
    char body[1024];
    cr_expect_eq(user_status(gw->port, "c", body, sizeof body), 200, "%s", body);
    cr_expect_eq(user_status(gw->port, "o", body, sizeof body), 200, "%s", body);

    atomic_int stop = 0;
    _Atomic long long count = 0;
    pthread_t th[8];
    loader ls[8];
    for (int i = 0; i < 8; i++) {
        ls[i] = (loader){i, gw->port, &stop, &count, 0, ""};
        cr_assert_eq(pthread_create(&th[i], NULL, loader_main, &ls[i]), 0);
    }
    sleep_s(0.3);
    long long before_kill = atomic_load(&count);
    aigw_test_redis_stop(&redis);
    sleep_s(0.5);
    /* Redis is down: fail_closed refuses (429 naming it), fail_open admits */
    long st = user_status(gw->port, "c", body, sizeof body);
    cr_expect_eq(st, 429, "fail_closed with Redis down: HTTP %ld %s", st, body);
    cr_expect(strstr(body, "closed") && strstr(body, "rate_limit_exceeded"), "%s", body);
    st = user_status(gw->port, "o", body, sizeof body);
    cr_expect_eq(st, 200, "fail_open with Redis down: HTTP %ld %s", st, body);
    sleep_s(0.5);
    long long while_down = atomic_load(&count);
    cr_assert_eq(aigw_test_redis_start(&redis, redis.port), 0, "redis-server did not restart");
    sleep_s(0.5);
    st = user_status(gw->port, "c", body, sizeof body);
    cr_expect_eq(st, 200, "fail_closed after the restart: HTTP %ld %s", st, body);
    st = user_status(gw->port, "o", body, sizeof body);
    cr_expect_eq(st, 200, "fail_open after the restart: HTTP %ld %s", st, body);
    sleep_s(0.3);
    atomic_store(&stop, 1);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        cr_expect_str_empty(ls[i].error, "loader %d: %s", i, ls[i].error);
        cr_expect_lt(ls[i].worst, 3.0, "loader %d: a request took %.2f s", i, ls[i].worst);
    }
    cr_expect_gt(while_down, before_kill, "no request was answered while Redis was down");
    cr_expect_gt(atomic_load(&count), while_down, "no request was answered after the restart");
    /* both outcomes were logged (serve -v prints the library's log) */
    const char *closed_log[] = {"\"closed\"", "fail_closed", NULL};
    const char *open_log[] = {"\"open\"", "fail_open", NULL};
    cr_expect(aigw_test_serve_log_has(gw, closed_log), "no log line for the fail_closed refusal");
    cr_expect(aigw_test_serve_log_has(gw, open_log), "no log line for the fail_open admission");
    /* still alive and healthy */
    cr_expect_eq(waitpid(gw->pid, NULL, WNOHANG), 0, "serve died");
    aigw_test_resp h = aigw_test_http(gw->port, "GET", "/healthz", NULL, NULL);
    cr_expect_eq(h.status, 200);
    aigw_test_resp_free(&h);
    int status = aigw_test_serve_stop(gw, 5000);
    cr_expect(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "serve did not exit cleanly (%d)", status);
    aigw_test_redis_stop(&redis);
}

/* ---- exact through Redis faults, two processes (issue #13) ---- */

typedef struct fault_caller {
    int id;
    int ports[2];
    atomic_int *stop;
    long long usage, metered, unmetered, refused;
    char error[512];
} fault_caller;

/* Calls until told to stop: users "o" (fail_open) and "c" (fail_closed) in
 * turn, on both gateways. A 200 with x-ratelimit headers was metered: its
 * usage counts. */
static void *fault_caller_main(void *arg) {
    fault_caller *f = arg;
    for (int i = 0; !atomic_load(f->stop); i++) {
        const char *user = f->id % 2 ? "c" : "o";
        aigw_test_resp r = post(f->ports[(f->id / 2 + i) % 2], CI_KEY, user, MOCK_BODY(""));
        char v[64];
        if (r.rc == CURLE_OK && r.status == 200 &&
            header(r.headers, "x-ratelimit-remaining-tokens", v, sizeof v)) {
            json_object *o = json_tokener_parse(r.body);
            json_object *in = o ? aigw_test_json_at(o, "usage.prompt_tokens") : NULL;
            json_object *out = o ? aigw_test_json_at(o, "usage.completion_tokens") : NULL;
            if (in && out) {
                f->metered++;
                f->usage += json_object_get_int64(in) + json_object_get_int64(out);
            } else {
                snprintf(f->error, sizeof f->error, "no usage: %.300s", r.body);
            }
            json_object_put(o);
        } else if (r.rc == CURLE_OK && r.status == 200) {
            f->unmetered++;
        } else if (r.rc == CURLE_OK && r.status == 429 && strstr(r.body, "cannot be checked")) {
            f->refused++;
        } else {
            snprintf(f->error, sizeof f->error, "rc %d HTTP %ld: %.300s", (int)r.rc, r.status,
                     r.body);
        }
        aigw_test_resp_free(&r);
    }
    return NULL;
}

Test(budgets_serve, two_processes_through_a_frozen_and_restarted_redis_charge_exactly,
     .timeout = 120) {
    char dir[] = "/tmp/aigw-serve-aof-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *args[] = {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir, NULL};
    int rc = aigw_test_redis_start_args(&redis, 0, args);
    if (rc == 1)
        cr_skip_test("redis-server is not installed");
    cr_assert_eq(rc, 0);
    const char *budgets =
        "[{\"name\":\"open\",\"scope\":{\"user\":[\"o\"]},\"cost\":\"input_tokens + "
        "output_tokens\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000000,"
        "\"refill_per_second\":0},\"on_store_error\":\"fail_open\"},"
        "{\"name\":\"closed\",\"scope\":{\"user\":[\"c\"]},\"cost\":\"input_tokens + "
        "output_tokens\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000000,"
        "\"refill_per_second\":0},\"on_store_error\":\"fail_closed\"}]";
    char config[4096];
    redis_config(budgets, ",\"user_header\":\"x-user-id\"", 300, config, sizeof config);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(aigw_test_serve_start(&gws[i], config, 2, NULL), 0, "serve %d", i);
    atomic_int stop = 0;
    pthread_t th[64];
    fault_caller fs[64];
    for (int i = 0; i < 64; i++) {
        fs[i] = (fault_caller){.id = i, .ports = {gws[0].port, gws[1].port}, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, fault_caller_main, &fs[i]), 0);
    }
    sleep_s(0.5);
    cr_assert_eq(kill(redis.pid, SIGSTOP), 0);
    sleep_s(1.5);
    kill(redis.pid, SIGCONT);
    sleep_s(0.7);
    aigw_test_redis_stop(&redis); /* SIGKILL */
    sleep_s(0.5);
    rc = aigw_test_redis_start_args(&redis, redis.port, args);
    sleep_s(0.7);
    atomic_store(&stop, 1);
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(rc, 0, "redis-server did not restart");
    long long usage[2] = {0, 0}, metered[2] = {0, 0}, unmetered[2] = {0, 0}, refused[2] = {0, 0};
    for (int i = 0; i < 64; i++) {
        cr_expect_str_empty(fs[i].error, "caller %d: %s", i, fs[i].error);
        usage[i % 2] += fs[i].usage;
        metered[i % 2] += fs[i].metered;
        unmetered[i % 2] += fs[i].unmetered;
        refused[i % 2] += fs[i].refused;
    }
    /* The gateways re-send what they queued once Redis answers: wait for
     * the counters to settle (30 s at most), then they must be exact. */
    aigw_client *c = aigw_test_client_new(config);
    const char *names[2] = {"open", "closed"};
    for (int k = 0; k < 2; k++) {
        double spent = -1;
        for (int i = 0; i < 300; i++) {
            char *json = NULL;
            if (aigw_test_budget_status(c, &json, NULL, 0) == AIGW_OK) {
                aigw_free(json);
                spent = 1000000 - remaining(c, names[k], NULL);
                if (fabs(spent - (double)usage[k]) < 1e-9)
                    break;
            }
            sleep_s(0.1);
        }
        cr_log_info("%s: %lld metered (usage %lld), %lld unmetered, %lld refused; Redis has %.0f",
                    names[k], metered[k], usage[k], unmetered[k], refused[k], spent);
        cr_expect_float_eq(spent, (double)usage[k], 1e-9, "%s: Redis counted %.0f, metered %lld",
                           names[k], spent, usage[k]);
        cr_expect_gt(metered[k], 0);
    }
    cr_expect_gt(unmetered[0], 0, "fail_open never admitted unmetered: no fault felt");
    cr_expect_eq(refused[0], 0);
    cr_expect_gt(refused[1], 0, "fail_closed never refused: no fault felt");
    cr_expect_eq(unmetered[1], 0);
    /* serve -v is not on: the store's failures are in /metrics */
    aigw_test_resp m = aigw_test_http(gws[0].port, "GET", "/metrics", NULL, NULL);
    cr_expect(strstr(m.body, "aigw_budget_store_recovered_total"), "%.500s", m.body);
    cr_expect(strstr(m.body, "aigw_budget_store_pending 0"), "%.2000s", m.body);
    aigw_test_resp_free(&m);
    aigw_client_free(c);
    for (int i = 0; i < 2; i++)
        aigw_test_serve_stop(&gws[i], 5000);
    aigw_test_redis_stop(&redis);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ---- a client that goes away; a reload ---- */

typedef struct sse_abort {
    int events;
} sse_abort;

/* Reads until the first SSE data event, then hangs up. */
static size_t abort_after_first_event(char *p, size_t size, size_t n, void *user) {
    sse_abort *a = user;
    for (size_t i = 0; i + 5 <= size * n; i++)
        if (memcmp(p + i, "data:", 5) == 0) {
            a->events++;
            break;
        }
    return a->events ? 0 : size * n;
}

/* The budget's counter moves from "reserved" to "settled"; returns the
 * value once it differs from `reserved` (or after 3 s). */
static double settled_remaining(const char *name, double reserved) {
    double v = reserved;
    for (int i = 0; i < 300; i++) {
        v = remaining(client, name, NULL);
        if (fabs(v - reserved) > 1e-9)
            break;
        sleep_s(0.01);
    }
    return v;
}

Test(budgets_serve, a_client_that_goes_away_never_leaks_its_reservation) {
    /* Anthropic's message_start tells the input (5 tokens) before the first
     * chunk, but not the output (its 1 is a placeholder); the estimate is 15
     * in + 100 out. cost = input + 4*output: reserved 415, settled 5 + 4*100
     * = 405 when the stream stops there (output at the estimate), or the
     * whole 21 when the upstream finished first; refunded (0) or 21 for a
     * whole answer. A reservation left behind stays at 415. */
    char keys[512], config[8192];
    gateway_keys(keys, sizeof keys);
    snprintf(config, sizeof config,
             "{\"backends\":{\"anth\":{\"schema\":\"anthropic\",\"base_url\":\"http://127.0.0.1:%d/"
             "anthropic/v1\",\"api_key\":\"%s\",\"headers\":{\"x-sim-fault\":\"event_ms=300\"}},"
             "\"slow\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\","
             "\"headers\":{\"x-sim-fault\":\"latency_ms=1500\"}}},"
             "\"gateway\":{%s},\"budgets\":[{\"name\":\"spend\",\"cost\":\"input_tokens + "
             "4*output_tokens\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":10000,"
             "\"refill_per_second\":0}}]}",
             sim.port, UP_KEY, sim.base_url, UP_KEY, keys);
    client = aigw_test_client_new(config);
    server = aigw_test_gateway_start(client, &port);

    /* (1) SSE: hang up after the first event */
    const char *body = "{\"model\":\"anth/claude-sonnet-4-5\",\"max_tokens\":100,\"stream\":true,"
                       "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":"
                       "\"user\",\"content\":\"hello there friend\"}]}";
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " CI_KEY);
    h = curl_slist_append(h, "Content-Type: application/json");
    sse_abort a = {0};
    CURL *c = aigw_test_chat_handle(port, h, body, abort_after_first_event, &a, 20000);
    CURLcode rc = curl_easy_perform(c);
    cr_expect_eq(rc, CURLE_WRITE_ERROR, "%s", curl_easy_strerror(rc));
    cr_expect_eq(a.events, 1);
    curl_easy_cleanup(c);
    double left = settled_remaining("spend", 10000 - 415);
    cr_log_info("client hung up mid-stream: remaining %f", left);
    cr_expect(fabs(left - (10000 - 405)) < 1e-9 || fabs(left - (10000 - 21)) < 1e-9,
              "after a client hung up mid-stream: remaining %f (9585 = the reservation leaked)",
              left);

    /* (2) JSON: the client gives up before the (slow) answer */
    double before = remaining(client, "spend", NULL);
    body = "{\"model\":\"slow/gpt-4o-mini\",\"max_tokens\":100,\"messages\":[{\"role\":\"system\","
           "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hello there friend\"}]}";
    sse_abort ignore = {0};
    c = aigw_test_chat_handle(port, h, body, abort_after_first_event, &ignore, 300);
    rc = curl_easy_perform(c);
    cr_expect_eq(rc, CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    left = settled_remaining("spend", before - 415);
    cr_log_info("client gave up: remaining %f (before %f)", left, before);
    cr_expect(fabs(left - before) < 1e-9 || fabs(left - (before - 21)) < 1e-9,
              "after a client gave up: remaining %f, before %f (%f = the reservation leaked)", left,
              before, before - 415);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(budgets_serve, a_reload_keeps_the_memory_counters_of_budgets_of_the_same_name) {
    const char *b1 = "[{\"name\":\"kept\",\"cost\":\"requests\",\"limit\":{\"type\":\"window\","
                     "\"per\":\"day\",\"max\":10}},{\"name\":\"dropped\",\"cost\":\"requests\","
                     "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":10}}]";
    gw_start(b1, "");
    for (int i = 0; i < 3; i++) {
        aigw_test_resp r = post(port, CI_KEY, NULL, CHAT(10, ""));
        cr_expect_eq(r.status, 200, "%s", r.body);
        aigw_test_resp_free(&r);
    }
    cr_expect_float_eq(remaining(client, "kept", NULL), 7, 1e-9);
    /* the new config: "kept" stays, "dropped" goes, "fresh" comes */
    char keys[512], config[8192], path[64];
    gateway_keys(keys, sizeof keys);
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\""
             "}},\"default_backend\":\"sim\",\"gateway\":{%s},\"budgets\":["
             "{\"name\":\"kept\",\"cost\":\"requests\",\"limit\":{\"type\":\"window\","
             "\"per\":\"day\",\"max\":10}},{\"name\":\"fresh\",\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":10}}]}",
             sim.base_url, UP_KEY, keys);
    snprintf(path, sizeof path, "/tmp/aigw-budgets-reload-%d.json", (int)getpid());
    write_file(path, config);
    aigw_error *err = NULL;
    cr_assert_eq(aigw_server_reload(server, path, &err), AIGW_OK, "%s", aigw_error_message(err));
    unlink(path);
    aigw_test_resp r = post(port, CI_KEY, NULL, CHAT(10, ""));
    cr_expect_eq(r.status, 200, "%s", r.body);
    /* the answer's headers come from the reloaded budgets: "kept" (6 of 10
     * left after this call's reservation) is tighter than "fresh" (9) */
    expect_ratelimit_headers(&r, 10, 6, 86400, "after reload");
    char v[64];
    const char *rem = header(r.headers, "x-ratelimit-remaining-tokens", v, sizeof v);
    cr_expect(rem && atof(rem) == 6, "remaining %s, want 6 (the counter carried over)",
              rem ? rem : "(none)");
    aigw_test_resp_free(&r);
    /* aigw_budget_status on the original client is not the reloaded one's
     * business; the numbers show in the headers above. */
}
