/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-sim: a deterministic stand-in for model providers' HTTP APIs, with
 * fault injection and replay of recorded traffic. See README.md. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "sim_oauth.h"
#include "sim_router.h"

/* Every provider module registers itself here. */
void sim_anthropic_register(void);
void sim_bedrock_register(void);
void sim_bedrock_configure(const char *access_key_id, const char *secret_access_key,
                           const char *region);
void sim_gemini_register(void); /* Gemini API and Vertex AI */
void sim_gemini_set_bearer_token(const char *token);
void sim_azure_register(void);
void sim_aws_auth_register(void); /* STS and container credentials */
int sim_aws_auth_option(const char *name, const char *value);
void sim_google_auth_register(void); /* Google OAuth, STS, IAM credentials */
int sim_google_auth_configure(const char *public_key_file, const char *subject_token_file,
                              long token_lifetime);
static void (*const provider_registrars[])(void) = {
    sim_openai_register, sim_anthropic_register,   sim_bedrock_register, sim_gemini_register,
    sim_azure_register,  sim_google_auth_register, sim_oauth_register,   sim_aws_auth_register,
};

static uv_signal_t sig_term, sig_int;
static uv_timer_t deadline;

static void shutdown_all(void) {
    sim_http_shutdown();
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
    (void)s;
    (void)signum;
    shutdown_all();
}

static void on_deadline(uv_timer_t *t) {
    (void)t;
    fprintf(stderr, "aigw-sim: --max-seconds reached, exiting\n");
    shutdown_all();
}

static void usage(FILE *out) {
    fputs("usage: aigw-sim [--host 127.0.0.1] [--port 0] [--api-key KEY]\n"
          "                [--bearer-token TOKEN] [--recordings DIR] [--max-seconds N]\n"
          "                [--aws-access-key-id ID --aws-secret-access-key SECRET]\n"
          "                [--aws-region REGION]\n"
          "                [--google-public-key PEM] [--google-subject-token-file FILE]\n"
          "                [--token-lifetime SECONDS]\n"
          "                [--entra-client-id ID] [--entra-client-secret SECRET]\n"
          "                [--entra-federated-token-file FILE]\n"
          "                [--oidc-client-id ID] [--oidc-client-secret SECRET]\n"
          "                [--fault-token-endpoints SPEC] [--fault SPEC]\n",
          out);
}

static int parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    long port = 0, max_seconds = 900;
    sim_config cfg = {0};
    const char *aws_key_id = NULL, *aws_secret = NULL, *aws_region = NULL;
    int rc;
    const char *google_public_key = NULL, *google_subject_token_file = NULL;
    long token_lifetime = 0;

    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--host") == 0) {
            host = v;
        } else if (strcmp(a, "--port") == 0) {
            if (parse_long(v, 0, 65535, &port) != 0) {
                fprintf(stderr, "aigw-sim: bad --port %s\n", v);
                return 2;
            }
        } else if (strcmp(a, "--bearer-token") == 0) {
            sim_gemini_set_bearer_token(v);
        } else if (strcmp(a, "--api-key") == 0) {
            cfg.api_key = *v ? v : NULL;
        } else if (strcmp(a, "--aws-access-key-id") == 0) {
            aws_key_id = *v ? v : NULL;
        } else if (strcmp(a, "--aws-secret-access-key") == 0) {
            aws_secret = v;
        } else if (strcmp(a, "--aws-region") == 0) {
            aws_region = v;
        } else if (strcmp(a, "--google-public-key") == 0) {
            google_public_key = v;
        } else if (strcmp(a, "--google-subject-token-file") == 0) {
            google_subject_token_file = v;
        } else if (strcmp(a, "--token-lifetime") == 0) {
            if (parse_long(v, 1, 86400L * 366, &token_lifetime) != 0) {
                fprintf(stderr, "aigw-sim: bad --token-lifetime %s\n", v);
                return 2;
            }
        } else if (sim_aws_auth_option(a, v)) {
            /* --aws-credential-lifetime, --aws-container-token */
        } else if (strcmp(a, "--fault") == 0) {
            char err[160];
            if (sim_router_set_default_fault(v, strlen(v), err, sizeof err) != 0) {
                fprintf(stderr, "aigw-sim: bad --fault %s: %s\n", v, err);
                return 2;
            }
        } else if (strcmp(a, "--recordings") == 0) {
            cfg.recordings_dir = v;
        } else if (strcmp(a, "--max-seconds") == 0) {
            if (parse_long(v, 1, INT_MAX / 1000, &max_seconds) != 0) {
                fprintf(stderr, "aigw-sim: bad --max-seconds %s\n", v);
                return 2;
            }
        } else if ((rc = sim_oauth_option(a, v)) != 0) { /* token endpoints */
            if (rc < 0)
                return 2;
        } else {
            usage(stderr);
            return 2;
        }
    }

    if (!aws_key_id != !aws_secret) {
        fprintf(stderr, "aigw-sim: --aws-access-key-id and --aws-secret-access-key go together\n");
        return 2;
    }
    sim_bedrock_configure(aws_key_id, aws_secret, aws_region);
    if (token_lifetime)
        sim_oauth_set_token_lifetime(token_lifetime);
    if (sim_google_auth_configure(google_public_key, google_subject_token_file, token_lifetime) !=
        0) {
        fprintf(stderr, "aigw-sim: cannot read --google-public-key %s\n", google_public_key);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    sim_router_init(&cfg);
    for (size_t i = 0; i < sizeof(provider_registrars) / sizeof(provider_registrars[0]); i++)
        provider_registrars[i]();

    int bound = 0;
    if (sim_http_listen(loop, host, (int)port, sim_router_dispatch, NULL, &bound) != 0)
        return 1;
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)max_seconds * 1000u, 0);
    uv_unref((uv_handle_t *)&deadline);

    printf("listening on %s:%d\n", host, bound);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    uv_run(loop, UV_RUN_DEFAULT); /* the close callbacks */
    sim_router_free();
    uv_loop_close(loop);
    return 0;
}
