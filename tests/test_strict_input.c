/* SPDX-License-Identifier: Apache-2.0 */
/* Strict input: a request's known fields are checked (type and OpenAI's
 * ranges) before anything is sent, through the library and through serve;
 * invalid UTF-8 is refused; an upstream's Retry-After reaches serve's
 * client; a config or key file that is not a regular file is refused at
 * once; API keys with control bytes are refused when loaded. */
#define _GNU_SOURCE /* strcasestr */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "aigw/aigw.h"
#include "cli_run.h"
#include "gateway.h"
#include "http_client.h"
#include "sim.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the table: one bad field each ---- */

#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

typedef struct bad_case {
    int embed;          /* /v1/embeddings */
    const char *body;   /* the whole request */
    const char *param;  /* the "param" expected */
    const char *code;   /* the "code" expected */
    const char *needle; /* in the message (NULL: not checked) */
} bad_case;

static const bad_case bad_cases[] = {
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stream\":\"yes\"}", "stream", "invalid_type",
     "Invalid type for 'stream': expected a boolean, but got a string instead."},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stream\":1}", "stream", "invalid_type",
     "but got an integer"},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"max_tokens\":-1}", "max_tokens",
     "integer_below_min_value", "Expected a value >= 1, but got -1 instead."},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"max_tokens\":\"10\"}", "max_tokens", "invalid_type",
     NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"max_tokens\":1.5}", "max_tokens", "invalid_type",
     "but got a decimal"},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"max_completion_tokens\":0}", "max_completion_tokens",
     "integer_below_min_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"n\":0}", "n", "integer_below_min_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"n\":129}", "n", "integer_above_max_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"temperature\":2.5}", "temperature",
     "decimal_above_max_value", "Expected a value <= 2, but got 2.5 instead."},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"temperature\":-0.1}", "temperature",
     "decimal_below_min_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"temperature\":\"hot\"}", "temperature", "invalid_type",
     NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"top_p\":1.01}", "top_p", "decimal_above_max_value",
     NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"presence_penalty\":-3}", "presence_penalty",
     "decimal_below_min_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"frequency_penalty\":2.1}", "frequency_penalty",
     "decimal_above_max_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"seed\":1.5}", "seed", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"logprobs\":\"true\"}", "logprobs", "invalid_type",
     NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"top_logprobs\":21}", "top_logprobs",
     "integer_above_max_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"top_logprobs\":-1}", "top_logprobs",
     "integer_below_min_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop",
     "array_above_max_length", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stop\":[\"a\",1]}", "stop.[1]", "invalid_type",
     "Invalid type for 'stop[1]'"},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stop\":7}", "stop", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stream_options\":\"yes\"}", "stream_options",
     "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"stream_options\":{\"include_usage\":\"yes\"}}",
     "stream_options.include_usage", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":\"hi\"}", "messages", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[]}", "messages", "empty_array", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[\"hi\"]}", "messages.[0]", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[{\"content\":\"hi\"}]}", "messages.[0].role",
     "missing_required_parameter", "Missing required parameter: 'messages[0].role'."},
    {0,
     "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":7}]}",
     "messages.[1].role", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}",
     "messages.[0].role", "invalid_value", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
     "messages.[0].content", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
     "messages.[0].content.[0]", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"}", "messages", "missing_required_parameter", NULL},
    {0, "{" MSG "}", "model", "missing_required_parameter", NULL},
    {0, "{\"model\":5," MSG "}", "model", "invalid_type", NULL},
    {0, "{\"model\":\"\"," MSG "}", "model", "empty_string", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"user\":42}", "user", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"tools\":{}}", "tools", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"tools\":[{\"type\":\"function\"}]}",
     "tools.[0].function", "missing_required_parameter", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
     "tools.[0].function.name", "missing_required_parameter", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"tool_choice\":\"always\"}", "tool_choice",
     "invalid_value", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"tool_choice\":3}", "tool_choice", "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"response_format\":\"json\"}", "response_format",
     "invalid_type", NULL},
    {0, "{\"model\":\"mock/echo\"," MSG ",\"response_format\":{}}", "response_format.type",
     "missing_required_parameter", NULL},
    {1, "{\"model\":\"mock/echo\"}", "input", "missing_required_parameter", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":5}", "input", "invalid_type", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":[]}", "input", "empty_array", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":[\"a\",2]}", "input.[1]", "invalid_type", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":[[1,2],[3,\"x\"]]}", "input.[1].[1]", "invalid_type",
     NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":\"x\",\"dimensions\":0}", "dimensions",
     "integer_below_min_value", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":\"x\",\"encoding_format\":\"hex\"}", "encoding_format",
     "invalid_value", NULL},
    {1, "{\"model\":\"mock/echo\",\"input\":\"x\",\"user\":[]}", "user", "invalid_type", NULL},
};

/* Requests that stay valid: nulls for optional fields, unknown fields,
 * every allowed shape. */
static const char *const good_chat[] = {
    "{\"model\":\"mock/echo\"," MSG ",\"stream\":false,\"max_tokens\":null,\"temperature\":2,"
    "\"top_p\":0,\"n\":1,\"presence_penalty\":-2,\"frequency_penalty\":2.0,\"seed\":-5,"
    "\"logprobs\":true,\"top_logprobs\":20,\"stop\":[\"a\",\"b\",\"c\",\"d\"],\"user\":\"u\","
    "\"x_vendor_extension\":{\"anything\":[1,\"2\"]},\"stream_options\":null}",
    "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":"
    "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[]},{\"role\":\"tool\",\"content\":\"r\","
    "\"tool_call_id\":\"c\"}],\"stop\":\"x\",\"tools\":[{\"type\":\"function\",\"function\":{"
    "\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
    "\"response_format\":{\"type\":\"json_object\"},\"max_completion_tokens\":5}",
};

static aigw_client *mock_client(void) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(
        aigw_client_new_from_string(
            &c, "{\"env_defaults\":false,\"backends\":{\"mock\":{\"schema\":\"mock\"}}}", &e),
        AIGW_OK, "%s", aigw_error_message(e));
    return c;
}

/* "param":"X" and "code":"Y" in an OpenAI error JSON. */
static void expect_param(const char *json, const bad_case *bc) {
    char want[128];
    snprintf(want, sizeof want, "\"param\":\"%s\"", bc->param);
    cr_expect(strstr(json, want), "%s: want %s in %s", bc->body, want, json);
    snprintf(want, sizeof want, "\"code\":\"%s\"", bc->code);
    cr_expect(strstr(json, want), "%s: want %s in %s", bc->body, want, json);
    cr_expect(strstr(json, "\"type\":\"invalid_request_error\""), "%s", json);
    if (bc->needle)
        cr_expect(strstr(json, bc->needle), "%s: want \"%s\" in %s", bc->body, bc->needle, json);
}

Test(strict_input, library_refuses_each_bad_field) {
    aigw_client *c = mock_client();
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *bc = &bad_cases[i];
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st =
            bc->embed ? aigw_embed(c, bc->body, &out, &e) : aigw_chat(c, bc->body, &out, &e);
        cr_expect_eq(st, AIGW_EBADREQUEST, "%s: %s", bc->body, aigw_status_name(st));
        cr_expect_null(out);
        expect_param(aigw_error_json(e), bc);
        aigw_error_free(e);
        aigw_free(out);
    }
    aigw_client_free(c);
}

static int count_chunk(const char *json, size_t len, void *user) {
    (void)json;
    (void)len;
    ++*(int *)user;
    return 0;
}

Test(strict_input, stream_refused_before_any_chunk_and_good_requests_pass) {
    aigw_client *c = mock_client();
    int chunks = 0;
    aigw_error *e = NULL;
    cr_expect_eq(
        aigw_chat_stream(c, "{\"model\":\"mock/echo\"," MSG ",\"stream\":true,\"temperature\":9}",
                         count_chunk, &chunks, &e),
        AIGW_EBADREQUEST);
    cr_expect_eq(chunks, 0);
    cr_expect(strstr(aigw_error_json(e), "\"param\":\"temperature\""), "%s", aigw_error_json(e));
    aigw_error_free(e);
    for (size_t i = 0; i < sizeof good_chat / sizeof *good_chat; i++) {
        char *out = NULL;
        e = NULL;
        cr_expect_eq(aigw_chat(c, good_chat[i], &out, &e), AIGW_OK, "%s: %s", good_chat[i],
                     aigw_error_message(e));
        aigw_error_free(e);
        aigw_free(out);
    }
    char *out = NULL;
    e = NULL;
    cr_expect_eq(aigw_embed(c,
                            "{\"model\":\"mock/embed\",\"input\":[\"a\",\"b\"],\"dimensions\":8,"
                            "\"encoding_format\":\"float\",\"user\":null}",
                            &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw_free(out);
    aigw_client_free(c);
}

Test(strict_input, invalid_utf8_refused_by_the_library) {
    aigw_client *c = mock_client();
    static const char *const bad[] = {
        "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xff\"}]}",
        "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\"}]}",
        "{\"model\":\"mock/echo\",\"x\":\"\xed\xa0\x80\"," MSG "}",     /* a lone surrogate */
        "{\"model\":\"mock/echo\",\"\xc0\xaf\":1," MSG "}",             /* overlong, in a key */
        "{\"model\":\"mock/echo\",\"x\":\"\xf4\x90\x80\x80\"," MSG "}", /* past U+10FFFF */
        "{\"model\":\"mock/echo\",\"x\":\"\xe0\x80\xaf\"," MSG "}",     /* overlong, 3 bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *out = NULL;
        aigw_error *e = NULL;
        cr_expect_eq(aigw_chat(c, bad[i], &out, &e), AIGW_EBADREQUEST, "case %zu", i);
        cr_expect(strcasestr(aigw_error_message(e), "utf-8"), "case %zu: %s", i,
                  aigw_error_message(e));
        aigw_error_free(e);
        aigw_free(out);
    }
    char *out = NULL;
    aigw_error *e = NULL;
    cr_expect_eq(aigw_chat(c,
                           "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80 \\u00e9\"}]}",
                           &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw_free(out);
    aigw_client_free(c);
}

/* ---- through serve ---- */

/* What these tests look at in an answer. */
typedef struct reply {
    long status;
    char body[1 << 14];   /* cut to fit */
    char retry_after[32]; /* the Retry-After value as sent (" 7"), or "" */
} reply;

static void post(int port, const char *path, const char *body, reply *out) {
    aigw_test_resp r = aigw_test_http(port, "POST", path, NULL, body);
    cr_assert_eq(r.rc, CURLE_OK);
    memset(out, 0, sizeof *out);
    out->status = r.status;
    snprintf(out->body, sizeof out->body, "%s", r.body);
    for (const char *h = r.headers; *h;) {
        size_t n = strcspn(h, "\n");
        if (n > 12 && strncasecmp(h, "retry-after:", 12) == 0)
            snprintf(out->retry_after, sizeof out->retry_after, "%.*s",
                     (int)strcspn(h + 12, "\r\n"), h + 12);
        h += n + (h[n] == '\n');
    }
    aigw_test_resp_free(&r);
}

static aigw_test_sim sim;
static aigw_client *gw_client;
static aigw_server *server;
static int port;

static void serve_start(void) {
    cr_assert_eq(aigw_test_sim_start(&sim, (const char *const[]){"--api-key", "sk-up", NULL}), 0);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"env_defaults\":false,\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":"
             "\"%s\",\"api_key\":\"sk-up\"},\"mock\":{\"schema\":\"mock\"}}}",
             sim.base_url);
    gw_client = aigw_test_client_new(cfg);
    server = aigw_test_gateway_start(gw_client, &port);
}

static void serve_stop(void) {
    cr_expect_eq(aigw_test_gateway_stop(server, 1000), AIGW_OK);
    aigw_client_free(gw_client);
    aigw_test_sim_stop(&sim);
}

TestSuite(strict_serve, .init = serve_start, .fini = serve_stop, .timeout = 90);

Test(strict_serve, each_bad_field_is_400_with_its_param) {
    reply r;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *bc = &bad_cases[i];
        post(port, bc->embed ? "/v1/embeddings" : "/v1/chat/completions", bc->body, &r);
        cr_expect_eq(r.status, 400, "%s: %ld %s", bc->body, r.status, r.body);
        expect_param(r.body, bc);
    }
    /* A bad field going to a real upstream: refused before it is sent. */
    post(port, "/v1/chat/completions", "{\"model\":\"sim/gpt-4o-mini\"," MSG ",\"stream\":\"yes\"}",
         &r);
    cr_expect_eq(r.status, 400, "%s", r.body);
    post(port, "/v1/chat/completions", "{\"model\":\"sim/gpt-4o-mini\"," MSG ",\"max_tokens\":-1}",
         &r);
    cr_expect_eq(r.status, 400, "%s", r.body);
    /* and what is valid still goes through */
    for (size_t i = 0; i < sizeof good_chat / sizeof *good_chat; i++) {
        post(port, "/v1/chat/completions", good_chat[i], &r);
        cr_expect_eq(r.status, 200, "%s: %s", good_chat[i], r.body);
    }
    post(port, "/v1/chat/completions",
         "{\"model\":\"sim/gpt-4o-mini\"," MSG ",\"max_tokens\":5,\"x_unknown\":[1]}", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
}

Test(strict_serve, invalid_utf8_is_400) {
    reply r;
    post(port, "/v1/chat/completions",
         "{\"model\":\"sim/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
         "\"caf\xe9\"}]}",
         &r);
    cr_expect_eq(r.status, 400, "%s", r.body);
    cr_expect(strstr(r.body, "\"code\":\"invalid_json\"") && strcasestr(r.body, "utf-8"), "%s",
              r.body);
    post(port, "/v1/embeddings", "{\"model\":\"mock/echo\",\"input\":\"\xf8\x88\x80\x80\x80\"}",
         &r);
    cr_expect_eq(r.status, 400, "%s", r.body);
    post(port, "/v1/chat/completions",
         "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
         "\"caf\xc3\xa9\"}]}",
         &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
}

Test(strict_serve, upstream_retry_after_reaches_the_client) {
    reply r;
    post(port, "/v1/chat/completions",
         "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=429,retry_after=7\"," MSG "}", &r);
    cr_expect_eq(r.status, 429, "%s", r.body);
    cr_expect_str_eq(r.retry_after, " 7");
    post(port, "/v1/chat/completions",
         "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=503,retry_after=3\"," MSG "}", &r);
    cr_expect_eq(r.status, 502, "%s", r.body); /* an upstream 5xx is a bad gateway */
    cr_expect_str_eq(r.retry_after, " 3");
    /* none given, none sent */
    post(port, "/v1/chat/completions",
         "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=429\"," MSG "}", &r);
    cr_expect_eq(r.status, 429, "%s", r.body);
    cr_expect_str_eq(r.retry_after, "");
    /* the library's accessor */
    aigw_error *e = NULL;
    char *out = NULL;
    cr_expect_eq(aigw_chat(gw_client,
                           "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=429,retry_after="
                           "4\"," MSG "}",
                           &out, &e),
                 AIGW_ERATELIMIT);
    cr_expect_eq(aigw_error_retry_after(e), 4);
    aigw_error_free(e);
    e = NULL;
    cr_expect_eq(aigw_chat(gw_client, "{\"model\":\"mock/echo\"," MSG ",\"n\":0}", &out, &e),
                 AIGW_EBADREQUEST);
    cr_expect_eq(aigw_error_retry_after(e), -1);
    aigw_error_free(e);
}

/* ---- files that are not regular files ---- */

static char dir[128];

static void make_dir(void) {
    aigw_test_temp_dir(dir, sizeof dir, "aigw-strict");
}

static void remove_dir(void) {
    aigw_test_remove_tree(dir);
}

TestSuite(strict_files, .init = make_dir, .fini = remove_dir, .timeout = 60);

Test(strict_files, fifo_or_directory_config_refused_at_once) {
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/config.json", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
    const char *const paths[] = {fifo, dir, "/dev/null"};
    for (size_t i = 0; i < 3; i++) {
        double t0 = now_ms();
        aigw_error *e = NULL;
        cr_expect_eq(aigw_config_check(paths[i], &e), AIGW_EIO, "%s", paths[i]);
        cr_expect(strstr(aigw_error_message(e), "not a regular file"), "%s", aigw_error_message(e));
        aigw_error_free(e);
        e = NULL;
        aigw_client *c = NULL;
        cr_expect_eq(aigw_client_new_from_file(&c, paths[i], &e), AIGW_EIO);
        cr_expect_null(c);
        aigw_error_free(e);
        cr_expect_lt(now_ms() - t0, 5000, "took %.0f ms", now_ms() - t0);
    }

    /* serve's reload (what SIGHUP does) keeps the old config, at once */
    aigw_client *c = aigw_test_client_new("{\"env_defaults\":false,\"backends\":{\"mock\":{"
                                          "\"schema\":\"mock\"}}}");
    int p = 0;
    aigw_server *s = aigw_test_gateway_start(c, &p);
    double t0 = now_ms();
    aigw_error *e = NULL;
    cr_expect_eq(aigw_server_reload(s, fifo, &e), AIGW_EIO);
    cr_expect(strstr(aigw_error_message(e), "not a regular file"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    cr_expect_lt(now_ms() - t0, 5000);
    reply r;
    post(p, "/v1/chat/completions", "{\"model\":\"mock/echo\"," MSG "}", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(aigw_test_gateway_stop(s, 1000), AIGW_OK);
    aigw_client_free(c);

    /* the CLI */
    t0 = now_ms();
    aigw_test_cli_result res = aigw_test_cli_run(
        &(aigw_test_cli_opts){.home = dir}, (const char *const[]){"config", "check", fifo, NULL});
    cr_expect_neq(res.exit_code, 0);
    cr_expect(strstr(res.err, "not a regular file"), "%s", res.err);
    cr_expect_lt(now_ms() - t0, 10000);
    aigw_test_cli_result_free(&res);
}

/* ---- API keys with control bytes ---- */

static void expect_key_refused(const char *cfg, const char *secret, const char *source) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_expect_eq(aigw_client_new_from_string(&c, cfg, &e), AIGW_ECONFIG, "%s", cfg);
    cr_expect_null(c);
    const char *m = aigw_error_message(e);
    cr_expect(strstr(m, "control character") && strstr(m, source), "%s", m);
    cr_expect_null(strstr(m, secret), "the secret leaked: %s", m);
    cr_expect_null(strstr(aigw_error_json(e), secret));
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(strict_files, control_bytes_in_api_keys_refused_when_loaded) {
    expect_key_refused(
        "{\"env_defaults\":false,\"backends\":{\"o\":{\"schema\":\"openai\","
        "\"base_url\":\"http://127.0.0.1:9/v1\",\"api_key\":\"sk-SECRETx\\u0007y\"}}}",
        "SECRETx", "api_key");
    expect_key_refused("{\"env_defaults\":false,\"backends\":{\"o\":{\"schema\":\"openai\","
                       "\"base_url\":\"http://127.0.0.1:9/v1\",\"api_key\":\"sk-SECRET\\u007f\"}}}",
                       "SECRET", "api_key");
    setenv("AIGW_TEST_STRICT_KEY", "sk-SECRETenv\tz", 1);
    expect_key_refused("{\"env_defaults\":false,\"backends\":{\"o\":{\"schema\":\"openai\","
                       "\"base_url\":\"http://127.0.0.1:9/v1\",\"api_key_env\":"
                       "\"AIGW_TEST_STRICT_KEY\"}}}",
                       "SECRETenv", "AIGW_TEST_STRICT_KEY");
    unsetenv("AIGW_TEST_STRICT_KEY");

    char path[256], cfg[1024];
    snprintf(path, sizeof path, "%s/key", dir);
    const char *const contents[] = {"sk-SECRETfile\x1b[0m\n", "sk-SECRETfile\nsecond\n",
                                    "sk-SECRETfile\r\nx"};
    for (size_t i = 0; i < 3; i++) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(contents[i], f);
        fclose(f);
        chmod(path, 0600);
        snprintf(cfg, sizeof cfg,
                 "{\"env_defaults\":false,\"backends\":{\"o\":{\"schema\":\"openai\","
                 "\"base_url\":\"http://127.0.0.1:9/v1\",\"api_key_file\":\"%s\"}}}",
                 path);
        aigw_client *c = NULL;
        aigw_error *e = NULL;
        cr_expect_eq(aigw_client_new_from_string(&c, cfg, &e), AIGW_ECONFIG, "%zu", i);
        cr_expect(strstr(aigw_error_message(e), path), "%s", aigw_error_message(e));
        cr_expect_null(strstr(aigw_error_message(e), "SECRET"), "%s", aigw_error_message(e));
        aigw_error_free(e);
        aigw_client_free(c);
    }
    /* A credential of type api_key, likewise. */
    expect_key_refused("{\"env_defaults\":false,\"credentials\":{\"k\":{\"type\":\"api_key\","
                       "\"value\":\"sk-SECRETcred\\r\\nX-Evil: 1\"}},\"backends\":{\"o\":{"
                       "\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:9/v1\","
                       "\"credential\":\"k\"}}}",
                       "SECRETcred", "api_key");

    /* A key file that is a FIFO: refused at load, at once. */
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    snprintf(cfg, sizeof cfg,
             "{\"env_defaults\":false,\"backends\":{\"o\":{\"schema\":\"openai\","
             "\"base_url\":\"http://127.0.0.1:9/v1\",\"api_key_file\":\"%s\"}}}",
             path);
    double t0 = now_ms();
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_expect_eq(aigw_client_new_from_string(&c, cfg, &e), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(e), "not a regular file"), "%s", aigw_error_message(e));
    cr_expect_lt(now_ms() - t0, 5000);
    aigw_error_free(e);
    aigw_client_free(c);

    /* A single trailing newline is still stripped. */
    unlink(path);
    FILE *f = fopen(path, "w");
    fputs("sk-fine\n", f);
    fclose(f);
    chmod(path, 0600);
    e = NULL;
    cr_expect_eq(aigw_client_new_from_string(&c, cfg, &e), AIGW_OK, "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw_client_free(c);
}

/* Credential files (a GCP key, AWS shared files) that are FIFOs are refused
 * at once with the reason, never waited on: a FIFO with no writer used to
 * block fopen() for ever. */
Test(strict_files, credential_files_that_are_fifos_refused_at_once, .timeout = 30) {
    char tmp[] = "/tmp/aigw-credfifo-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char fifo[64], cfg[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
    cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
    static const char *const configs[] = {
        "{\"env_defaults\":false,\"credentials\":{\"g\":{\"type\":\"gcp\",\"credentials_file\":"
        "\"%s\"}},\"backends\":{\"v\":{\"schema\":\"gcp-vertex\",\"project\":\"p\","
        "\"credential\":\"g\"}}}",
        "{\"env_defaults\":false,\"credentials\":{\"a\":{\"type\":\"aws\",\"profile\":\"x\"}},"
        "\"backends\":{\"b\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\","
        "\"credential\":\"a\"}}}",
    };
    setenv("AWS_SHARED_CREDENTIALS_FILE", fifo, 1);
    setenv("AWS_CONFIG_FILE", fifo, 1);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        snprintf(cfg, sizeof cfg, configs[i], fifo);
        double t0 = now_ms();
        aigw_client *c = NULL;
        aigw_error *e = NULL;
        cr_expect_neq(aigw_client_new_from_string(&c, cfg, &e), AIGW_OK, "config %zu", i);
        cr_expect(e && strstr(aigw_error_message(e), "not a regular file"), "config %zu: %s", i,
                  e ? aigw_error_message(e) : "(no error)");
        cr_expect_lt(now_ms() - t0, 5000, "config %zu", i);
        aigw_error_free(e);
        aigw_client_free(c);
    }
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    unlink(fifo);
    rmdir(tmp);
}
