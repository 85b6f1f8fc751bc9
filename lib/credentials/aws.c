/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials: the default credential chain of the AWS SDKs
 * (environment, web identity, shared files, container endpoint) and the
 * "aws" credential type of the config. Every source ends up as a
 * refresher whose fetch gives an aigw__cred_value with the access key id,
 * secret, session token and expiry. EC2 instance metadata (IMDS) is not
 * supported. */
#include "credentials/aws_internal.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/file.h"
#include "core/json.h"
#include "credentials/refresher.h"

#define ECS_HOST_URL "http://169.254.170.2"

/* ---- sources: what a refresher fetches from ---- */

void aigw__aws_src_free(void *p) {
    aws_src *s = p;
    if (!s)
        return;
    aigw__free(s->name);
    aigw__free(s->missing);
    aigw__cred_value_clear(&s->value);
    aigw__free(s->role_arn);
    aigw__free(s->token_file);
    aigw__free(s->session_name);
    aigw__free(s->sts_url);
    aigw__free(s->url);
    aigw__aws_wipe_free(s->auth_token);
    aigw__free(s->auth_token_file);
    aigw__free(s);
}

static aigw_status fetch_static(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    if (s->missing)
        return aigw__error_set(err, AIGW_EAUTH, "%s: %s", s->name, s->missing);
    return aigw__cred_value_copy(&s->value, out)
               ? aigw__error_set(err, AIGW_ENOMEM, "out of memory")
               : AIGW_OK;
}

/* Makes `src` (taken, even on failure) the credential's refresher. */
aigw_status aigw__aws_install(aigw__credential *cred, aws_src *src, const char *source,
                              aigw_error **err) {
    aigw__cred_fetch_fn fn = src->kind == SRC_STATIC         ? fetch_static
                             : src->kind == SRC_WEB_IDENTITY ? aigw__aws_fetch_web_identity
                                                             : aigw__aws_fetch_container;
    aigw__free(cred->source);
    cred->source = aigw__strdup(source);
    src->name = aigw__strdup(cred->name ? cred->name : "AWS credentials");
    if (!cred->source || !src->name) {
        aigw__aws_src_free(src);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__refresher *r = NULL;
    if (aigw__refresher_new(cred->name ? cred->name : "AWS credentials", fn, src,
                            aigw__aws_src_free, &r))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__refresher_unref(cred->refresher);
    cred->refresher = r;
    cred->kind = AIGW__CRED_AWS_SIGV4;
    return AIGW_OK;
}

aws_src *aigw__aws_src_new(src_kind kind) {
    aws_src *s = aigw__calloc(1, sizeof *s);
    if (s)
        s->kind = kind;
    return s;
}

aigw_status aigw__aws_setup_static(aigw__credential *cred, const char *akid, const char *secret,
                                   const char *token, const char *missing, const char *source,
                                   aigw_error **err) {
    aws_src *s = aigw__aws_src_new(SRC_STATIC);
    if (!s || (missing && !(s->missing = aigw__strdup(missing))) ||
        (akid && !(s->value.aws_access_key_id = aigw__strdup(akid))) ||
        (secret && !(s->value.aws_secret_access_key = aigw__strdup(secret))) ||
        (token && *token && !(s->value.aws_session_token = aigw__strdup(token)))) {
        aigw__aws_src_free(s);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return aigw__aws_install(cred, s, source, err);
}

/* ---- the shared files ---- */

static char *home_path(const char *leaf) {
    const char *home = aigw__aws_env_nonempty("HOME");
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if (!home && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
        home = pw.pw_dir;
    if (!home)
        return NULL;
    aigw__buf b = AIGW__BUF_INIT;
    if (aigw__buf_cat(&b, home, leaf, NULL)) {
        aigw__buf_free(&b);
        return NULL;
    }
    return aigw__buf_detach(&b);
}

/* The file named by `env` ('~/' expanded), else ~/.aws/LEAF. */
static char *aws_file_path(const char *env, const char *leaf) {
    const char *v = aigw__aws_env_nonempty(env);
    if (v && strncmp(v, "~/", 2) == 0)
        return home_path(v + 1);
    if (v)
        return aigw__strdup(v);
    char rel[64];
    snprintf(rel, sizeof rel, "/.aws/%s", leaf);
    return home_path(rel);
}

/* Parses `path` for `profile` into *p; a missing file is no error. */
static aigw_status parse_file(const char *path, const char *profile, int config_file,
                              aigw__aws_profile *p, aigw_error **err) {
    char *text = NULL;
    size_t len = 0;
    if (!path)
        return AIGW_OK;
    int e = aigw__aws_read_small_file(path, &text, &len);
    if (e) {
        if (e == ENOENT || e == ENOTDIR)
            return AIGW_OK;
        return aigw__error_set(err, e == ENOMEM ? AIGW_ENOMEM : AIGW_ECONFIG, "cannot read %s: %s",
                               path, aigw__file_strerror(e));
    }
    aigw_status st = aigw__aws_profile_parse(text, len, path, profile, config_file, p, err);
    memset(text, 0, len);
    aigw__free(text);
    return st;
}

/* Step 3 of the chain. `must_exist`: 1 when the profile was named (config
 * or AWS_PROFILE), 2 when the config named it (it must hold credentials). */
static aigw_status from_files(aigw__credential *cred, const char *profile, int must_exist,
                              const char *explicit_sts, const aigw__cred_context *ctx,
                              aigw_error **err) {
    char *creds_path = aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    char *config_path = aws_file_path("AWS_CONFIG_FILE", "config");
    aigw__aws_profile cfg = {0}, crd = {0};
    aigw__buf src = AIGW__BUF_INIT;
    const char *nm = cred->name ? cred->name : "AWS credentials";
    aigw_status st = parse_file(config_path, profile, 1, &cfg, err);
    if (!st)
        st = parse_file(creds_path, profile, 0, &crd, err);
    if (st)
        goto done;
    const char *cp = creds_path ? creds_path : "~/.aws/credentials";
    const char *gp = config_path ? config_path : "~/.aws/config";
    if (!cfg.found && !crd.found) {
        if (must_exist)
            st = aigw__error_set(err, AIGW_ECONFIG, "%s: profile %s is in neither %s nor %s", nm,
                                 profile, cp, gp);
        goto done;
    }
#define PICK(f) (crd.f ? crd.f : cfg.f)
    int keys_in_creds = crd.aws_access_key_id || crd.aws_secret_access_key;
    const char *file = keys_in_creds ? cp : gp;
    const char *akid = keys_in_creds ? crd.aws_access_key_id : cfg.aws_access_key_id;
    const char *secret = keys_in_creds ? crd.aws_secret_access_key : cfg.aws_secret_access_key;
    const char *token = keys_in_creds ? crd.aws_session_token : cfg.aws_session_token;
    const char *role = PICK(role_arn), *wif = PICK(web_identity_token_file);
    if (role && wif) {
        st = aigw__aws_setup_web_identity(cred, role, wif, PICK(role_session_name), explicit_sts,
                                          PICK(region), ctx, err);
        if (!st) {
            aigw__free(cred->source);
            cred->source = NULL;
            if (aigw__buf_printf(&src, "profile %s in %s: web identity token file %s for role %s",
                                 profile, crd.role_arn ? cp : gp, wif, role) ||
                !(cred->source = aigw__strdup(src.data)))
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
    } else if (role) {
        st = aigw__error_set(err, AIGW_ENOTSUPPORTED,
                             "%s: profile %s: role_arn needs web_identity_token_file (assuming a "
                             "role from source_profile or credential_source is not supported)",
                             nm, profile);
    } else if (akid && secret) {
        aigw__aws_warn_if_exposed(ctx ? ctx->logger : NULL, nm, file);
        if (aigw__buf_printf(&src, "profile %s in %s", profile, file))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        else
            st = aigw__aws_setup_static(cred, akid, secret, token, NULL, src.data, err);
    } else if (akid || secret) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: profile %s in %s has %s but no %s", nm,
                             profile, file, akid ? "aws_access_key_id" : "aws_secret_access_key",
                             akid ? "aws_secret_access_key" : "aws_access_key_id");
    } else if (must_exist == 2) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: profile %s holds no credentials (aws_access_key_id and "
                             "aws_secret_access_key, or role_arn and web_identity_token_file)",
                             nm, profile);
    }
#undef PICK
done:
    aigw__aws_profile_clear(&cfg);
    aigw__aws_profile_clear(&crd);
    aigw__buf_free(&src);
    aigw__free(creds_path);
    aigw__free(config_path);
    return st;
}

/* ---- the chain ---- */

typedef struct aws_opts {
    const char *ak_env, *sk_env, *st_env;
    const char *profile;
    const char *role_arn, *token_file, *session_name;
    const char *sts_endpoint;
    const char *container_uri;
} aws_opts;

static aigw_status from_named_env(aigw__credential *cred, const aws_opts *o, aigw_error **err) {
    const char *ak = aigw__aws_env_nonempty(o->ak_env), *sk = aigw__aws_env_nonempty(o->sk_env);
    const char *tk = o->st_env ? aigw__aws_env_nonempty(o->st_env) : NULL;
    char missing[320] = "", source[320];
    if (!ak || !sk)
        snprintf(missing, sizeof missing, "environment variable %s is not set",
                 !ak ? o->ak_env : o->sk_env);
    snprintf(source, sizeof source, "environment variables %s/%s", o->ak_env, o->sk_env);
    return aigw__aws_setup_static(cred, ak, sk, tk, *missing ? missing : NULL, source, err);
}

static aigw_status run_chain(aigw__credential *cred, const aws_opts *o,
                             const aigw__cred_context *ctx, aigw_error **err) {
    if (o->ak_env)
        return from_named_env(cred, o, err);
    if (o->role_arn)
        return aigw__aws_setup_web_identity(cred, o->role_arn, o->token_file, o->session_name,
                                            o->sts_endpoint, NULL, ctx, err);
    if (o->container_uri)
        return aigw__aws_setup_container(cred, o->container_uri, NULL, ctx, err);
    if (o->profile)
        return from_files(cred, o->profile, 2, o->sts_endpoint, ctx, err);

    /* 1. environment */
    const char *ak = aigw__aws_env_nonempty("AWS_ACCESS_KEY_ID"),
               *sk = aigw__aws_env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (ak && sk)
        return aigw__aws_setup_static(
            cred, ak, sk, aigw__aws_env_nonempty("AWS_SESSION_TOKEN"), NULL,
            "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", err);
    if (ak || sk)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: environment variable %s is set but %s is not",
                               cred->name ? cred->name : "AWS credentials",
                               ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                               ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    /* 2. web identity */
    const char *wif = aigw__aws_env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE"),
               *role = aigw__aws_env_nonempty("AWS_ROLE_ARN");
    if (wif && role)
        return aigw__aws_setup_web_identity(cred, role, wif,
                                            aigw__aws_env_nonempty("AWS_ROLE_SESSION_NAME"),
                                            o->sts_endpoint, NULL, ctx, err);
    /* 3. shared files */
    const char *prof = aigw__aws_env_nonempty("AWS_PROFILE");
    aigw_status st =
        from_files(cred, prof ? prof : "default", prof ? 1 : 0, o->sts_endpoint, ctx, err);
    if (st || cred->kind != AIGW__CRED_NONE)
        return st;
    /* 4. container */
    const char *rel = aigw__aws_env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (rel) {
        aigw__buf url = AIGW__BUF_INIT;
        if (aigw__buf_cat(&url, ECS_HOST_URL, rel[0] == '/' ? "" : "/", rel, NULL)) {
            aigw__buf_free(&url);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
        st = aigw__aws_setup_container(cred, url.data, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       ctx, err);
        aigw__buf_free(&url);
        return st;
    }
    const char *full = aigw__aws_env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (full)
        return aigw__aws_setup_container(cred, full, NULL, ctx, err);
    return AIGW_OK; /* nothing: kind stays NONE */
}

static aigw_status set_name(aigw__credential *cred, const char *label) {
    aigw__free(cred->name);
    cred->name = aigw__strdup(label);
    return cred->name ? AIGW_OK : AIGW_ENOMEM;
}

static aigw_status finish(aigw__credential *cred, aigw_status st) {
    if (st) {
        aigw__free(cred->name);
        aigw__free(cred->source);
        aigw__refresher_unref(cred->refresher);
        cred->name = cred->source = NULL;
        cred->refresher = NULL;
        cred->kind = AIGW__CRED_NONE;
    } else if (cred->kind == AIGW__CRED_NONE) {
        aigw__free(cred->source);
        cred->source = NULL;
    }
    return st;
}

aigw_status aigw__aws_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                         aigw_error **err) {
    memset(cred, 0, sizeof *cred);
    if (set_name(cred, "AWS default credentials"))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aws_opts o;
    memset(&o, 0, sizeof o);
    return finish(cred, run_chain(cred, &o, ctx, err));
}

aigw_status aigw__aws_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                      const char *path, const aigw__cred_context *ctx,
                                      aigw_error **err) {
    static const char *const keys[] = {"type",
                                       "access_key_id_env",
                                       "secret_access_key_env",
                                       "session_token_env",
                                       "profile",
                                       "role_arn",
                                       "web_identity_token_file",
                                       "role_session_name",
                                       "sts_endpoint",
                                       "container_uri",
                                       NULL};
    const size_t n_keys = sizeof keys / sizeof keys[0] - 1;
    const char *vals[sizeof keys / sizeof keys[0]] = {0};
    const char *p = path ? path : "credentials";
    memset(cred, 0, sizeof *cred);
    if (!conf || !json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", p);
    aigw_status st = aigw__json_check_key_list(conf, p, keys, err);
    if (st)
        return st;
    json_object_object_foreach(conf, key, val) {
        size_t i = 0;
        while (i < n_keys && strcmp(key, keys[i]) != 0)
            i++;
        if (!val || !json_object_is_type(val, json_type_string))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a string", p, key);
        if (!*json_object_get_string(val))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must not be empty", p, key);
        vals[i] = json_object_get_string(val);
    }
    if (vals[0] && strcmp(vals[0], "aws") != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"aws\"", p);
    aws_opts o = {
        .ak_env = vals[1],
        .sk_env = vals[2],
        .st_env = vals[3],
        .profile = vals[4],
        .role_arn = vals[5],
        .token_file = vals[6],
        .session_name = vals[7],
        .sts_endpoint = vals[8],
        .container_uri = vals[9],
    };
    if (!o.ak_env != !o.sk_env)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: access_key_id_env and secret_access_key_env go together", p);
    if (o.st_env && !o.ak_env)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.session_token_env: needs access_key_id_env and "
                               "secret_access_key_env",
                               p);
    if (!o.role_arn != !o.token_file)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: role_arn and web_identity_token_file go together", p);
    if (o.session_name && !o.role_arn)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.role_session_name: needs role_arn", p);
    if (!!o.ak_env + !!o.profile + !!o.role_arn + !!o.container_uri > 1)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: give only one of access_key_id_env, profile, role_arn and "
                               "container_uri",
                               p);
    if (o.sts_endpoint && (o.ak_env || o.container_uri))
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.sts_endpoint: only with role_arn, profile or the default chain",
                               p);
    char label[256];
    snprintf(label, sizeof label, "credential \"%s\"", name ? name : "aws");
    if (set_name(cred, label))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return finish(cred, run_chain(cred, &o, ctx, err));
}
