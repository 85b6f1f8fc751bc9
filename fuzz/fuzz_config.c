/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the whole config loader: the bytes are a config
 * document given to aigw_client_new_from_string() (backends, credentials,
 * routes, outlier_ejection, budgets, accounting, gateway...) and, as a file,
 * to aigw_config_check().
 *
 * Besides crashes, leaks and sanitizer reports, it checks the loader's
 * promises: a failure always comes with an error of the same status and a
 * non-empty one-line message, and no client; a success with a client and
 * no error; aigw_config_check() never accepts what the client loader
 * refuses (it checks the same and the gateway section too), and refuses
 * with the client loader's status when that one refuses; error messages
 * are one line without control characters.
 *
 * ${ENV} references resolve against a fixed environment set at start.
 * Inputs naming /dev, /proc or /sys are skipped: a key file there could
 * block or read the fuzzer's own state. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aigw/aigw.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* A fixed environment: the zero-config backends and ${ENV} look here. */
    static const char *const clear[] = {
        "OPENAI_API_KEY",        "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
        "AZURE_OPENAI_ENDPOINT", "AWS_REGION",      "AWS_DEFAULT_REGION",
        "GEMINI_API_KEY",        "GOOGLE_API_KEY",  "GOOGLE_CLOUD_PROJECT",
        "AIGW_CONFIG",           "AWS_PROFILE",     "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_TENANT_ID",       "AZURE_CLIENT_ID", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "REDIS_PASSWORD",        "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    };
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
        unsetenv(clear[i]);
    setenv("DEPLOYMENT", "gpt4o-prod", 1);
    setenv("BK", "a", 1);
    setenv("EMPTY", "", 1);
    setenv("UPSTREAM_KEY", "sk-fuzz", 1);
    setenv("HOST", "127.0.0.1", 1);
    setenv("HOME", "/nonexistent-aigw-fuzz-home", 1);
    memfd = memfd_create("aigw-fuzz-config", MFD_CLOEXEC);
    if (memfd < 0)
        abort();
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    return 0;
}

static int has(const uint8_t *data, size_t size, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= size; i++)
        if (!memcmp(data + i, needle, n))
            return 1;
    return 0;
}

static void check_error(aigw_status st, const aigw_error *err) {
    if (!err || aigw_error_status(err) != st)
        abort();
    const char *msg = aigw_error_message(err);
    if (!msg || !*msg)
        abort();
    /* One line (README: "aigw_error_message: one line"): a key or value
     * quoted from the config must not bring its control characters along. */
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536 || has(data, size, "/dev") || has(data, size, "/proc") ||
        has(data, size, "/sys"))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    aigw_client *client = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw_client_new_from_string(&client, text, &err);
    if (st == AIGW_OK) {
        if (!client || err)
            abort();
    } else {
        if (client)
            abort();
        check_error(st, err);
    }

    /* The same bytes as a file, unless a NUL cut the string short. */
    if (!memchr(data, '\0', size)) {
        if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
            abort();
        aigw_error *cerr = NULL;
        aigw_status cst = aigw_config_check(memfd_path, &cerr);
        if (cst != AIGW_OK)
            check_error(cst, cerr);
        else if (cerr)
            abort();
        if (cst == AIGW_OK && st != AIGW_OK && st != AIGW_ENOMEM)
            abort(); /* accepted a file the client loader refuses */
        if (st == AIGW_ECONFIG && cst != AIGW_ECONFIG)
            abort();
        aigw_error_free(cerr);
    }

    aigw_client_free(client);
    aigw_error_free(err);
    free(text);
    return 0;
}
