/* SPDX-License-Identifier: Apache-2.0 */
/* The synchronous transport on libcurl's easy interface. One share handle
 * per client lets every thread reuse connections, TLS sessions and DNS
 * answers; each call gets its own easy handle. */
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "aigw/version.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "router/retry.h"
#include "transport/transport.h"

struct aigw__transport {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* curl_global_init is not thread-safe and can fail (out of memory): run it
 * under a lock, and again on the next client if it failed. */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_done;

static CURLcode global_init(void) {
    CURLcode rc = CURLE_OK;
    pthread_mutex_lock(&global_lock);
    if (!global_done) {
        rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, aigw__malloc, aigw__free, aigw__realloc,
                                  aigw__strdup, aigw__calloc);
        global_done = rc == CURLE_OK;
    }
    pthread_mutex_unlock(&global_lock);
    return rc;
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *user) {
    (void)handle;
    (void)access;
    struct aigw__transport *t = user;
    pthread_mutex_lock(&t->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *user) {
    (void)handle;
    struct aigw__transport *t = user;
    pthread_mutex_unlock(&t->locks[data]);
}

aigw_status aigw__transport_new(aigw__transport **out, aigw_error **err) {
    *out = NULL;
    CURLcode rc = global_init();
    if (rc != CURLE_OK)
        return aigw__error_set(err, rc == CURLE_OUT_OF_MEMORY ? AIGW_ENOMEM : AIGW_ETRANSPORT,
                               "libcurl initialisation failed: %s", curl_easy_strerror(rc));
    aigw__transport *t = aigw__calloc(1, sizeof *t);
    if (!t)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&t->locks[i], NULL);
    t->share = curl_share_init();
    if (!t->share) {
        aigw__transport_free(t);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    curl_share_setopt(t->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(t->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(t->share, CURLSHOPT_USERDATA, t);
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    *out = t;
    return AIGW_OK;
}

void aigw__transport_free(aigw__transport *t) {
    if (!t)
        return;
    if (t->share)
        curl_share_cleanup(t->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&t->locks[i]);
    aigw__free(t);
}

void aigw__http_result_free(aigw__http_result *res) {
    aigw__buf_free(&res->body);
}

typedef struct transfer {
    CURL *easy;
    aigw__body_sink sink;
    void *user;
    aigw__http_result *res;
    int status_known;
    int to_sink;
    int too_big;
    size_t received;
} transfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
    transfer *x = userp;
    size_t len = size * nmemb;
    if (!x->status_known) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->res->status);
        x->status_known = 1;
        x->to_sink = x->sink && x->res->status >= 200 && x->res->status <= 299;
    }
    x->received += len;
    if (x->to_sink) {
        if (x->sink(data, len, x->user)) {
            x->res->sink_stopped = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        return len;
    }
    if (x->res->body.len + len > AIGW__MAX_RESPONSE_BYTES) {
        x->too_big = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return aigw__buf_append(&x->res->body, data, len) ? CURL_WRITEFUNC_ERROR : len;
}

aigw_status aigw__transport_map_error(const aigw__backend *b, CURLcode rc, const char *errbuf,
                                      long http_status, int status_known, size_t received,
                                      aigw_error **err) {
    const char *what = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    int http = (int)http_status;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return aigw__error_set_upstream(err, AIGW_ECONNECT, b->name, 0, NULL, 0,
                                        "backend \"%s\": cannot connect: %s", b->name, what);
    case CURLE_OPERATION_TIMEDOUT:
        return aigw__error_set_upstream(err, AIGW_ETIMEOUT, b->name, http, NULL, 0,
                                        "backend \"%s\": timed out: %s", b->name, what);
    case CURLE_GOT_NOTHING:
        return aigw__error_set_upstream(err, AIGW_ETRUNCATED, b->name, 0, NULL, 0,
                                        "backend \"%s\": closed the connection without answering",
                                        b->name);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
        if (status_known || received)
            return aigw__error_set_upstream(err, AIGW_ETRUNCATED, b->name, http, NULL, 0,
                                            "backend \"%s\": response cut off after %zu bytes: %s",
                                            b->name, received, what);
        return aigw__error_set_upstream(err, AIGW_ETRANSPORT, b->name, 0, NULL, 0,
                                        "backend \"%s\": %s", b->name, what);
    case CURLE_OUT_OF_MEMORY:
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return aigw__error_set_upstream(err, AIGW_EBADRESPONSE, b->name, http, NULL, 0,
                                        "backend \"%s\": malformed HTTP answer: %s", b->name, what);
    default:
        return aigw__error_set_upstream(err, AIGW_ETRANSPORT, b->name, http, NULL, 0,
                                        "backend \"%s\": %s", b->name, what);
    }
}

static long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Response head lines: notes that a head arrived, and its Retry-After. A
 * redirect or 100-continue head starts over. */
static size_t on_header(char *line, size_t size, size_t nitems, void *user) {
    aigw__attempt_io *io = user;
    size_t len = size * nitems;
    io->got_head = 1;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
        io->retry_after_ms = -1;
    else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        char value[32];
        size_t n = len - 12 < sizeof value - 1 ? len - 12 : sizeof value - 1;
        memcpy(value, line + 12, n);
        value[n] = 0;
        value[strcspn(value, "\r\n")] = 0;
        io->retry_after_ms = aigw__retry_parse_retry_after(value);
    }
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    aigw__attempt_io *io = user;
    if (io->got_head || monotonic_ms() - io->started_ms < io->first_byte_ms)
        return 0;
    io->first_byte_timeout = 1;
    return 1;
}

aigw_status aigw__transport_first_byte_error(const aigw__backend *b, const aigw__attempt_io *io,
                                             aigw_error **err) {
    return aigw__error_set_upstream(err, AIGW_ETIMEOUT, b->name, 0, NULL, 0,
                                    "backend \"%s\": timed out: no response within %ld ms", b->name,
                                    io->first_byte_ms);
}

void aigw__transport_setup_easy(CURL *easy, const aigw__backend *b,
                                const aigw__upstream_request *req, curl_write_callback write_cb,
                                void *write_data, char *errbuf, aigw__attempt_io *io) {
    curl_easy_setopt(easy, CURLOPT_URL, req->url.data);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "libaigw/" AIGW_VERSION_STRING);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    if (req->accept_compressed)
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    long connect_ms = b->connect_timeout_ms, total_ms = b->timeout_ms;
    if (io) {
        if (io->connect_ms > 0 && (connect_ms <= 0 || io->connect_ms < connect_ms))
            connect_ms = io->connect_ms;
        if (io->total_ms > 0 && (total_ms <= 0 || io->total_ms < total_ms))
            total_ms = io->total_ms;
        io->retry_after_ms = -1;
        io->got_head = io->first_byte_timeout = 0;
        io->started_ms = monotonic_ms();
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, io);
        if (io->first_byte_ms > 0) {
            curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
            curl_easy_setopt(easy, CURLOPT_XFERINFODATA, io);
            curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        }
    }
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, write_data);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body.data ? req->body.data : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
}

/* Each thread drives its synchronous transfers with one multi handle of its
 * own (connections still come from the client's share): unlike
 * curl_easy_perform, whose internal wait lasts up to a second, the wait is
 * cut at an attempt's first-byte deadline. */
static pthread_key_t multi_key;
static pthread_once_t multi_once = PTHREAD_ONCE_INIT;

static void multi_destroy(void *m) {
    curl_multi_cleanup(m);
}

static void multi_key_init(void) {
    pthread_key_create(&multi_key, multi_destroy);
}

static CURLM *thread_multi(void) {
    pthread_once(&multi_once, multi_key_init);
    CURLM *m = pthread_getspecific(multi_key);
    if (!m && (m = curl_multi_init()) && pthread_setspecific(multi_key, m) != 0) {
        curl_multi_cleanup(m);
        m = NULL;
    }
    return m;
}

/* Runs one transfer to its end (or to io's first-byte deadline). */
static CURLcode run_transfer(CURL *easy, aigw__attempt_io *io) {
    CURLM *m = thread_multi();
    if (!m)
        return CURLE_OUT_OF_MEMORY;
    if (curl_multi_add_handle(m, easy) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    CURLcode rc = CURLE_OK;
    int running = 1;
    for (;;) {
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *msg;
            while ((msg = curl_multi_info_read(m, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
                    rc = msg->data.result;
            break;
        }
        int wait_ms = 1000;
        if (io && io->first_byte_ms > 0 && !io->got_head) {
            long long left = io->first_byte_ms - (monotonic_ms() - io->started_ms);
            if (left <= 0) {
                io->first_byte_timeout = 1;
                rc = CURLE_ABORTED_BY_CALLBACK;
                break;
            }
            if (left < wait_ms)
                wait_ms = (int)left;
        }
        if (curl_multi_poll(m, NULL, 0, wait_ms, NULL) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
    }
    curl_multi_remove_handle(m, easy);
    return rc;
}

aigw_status aigw__transport_perform(aigw__transport *t, const aigw__backend *b,
                                    const aigw__upstream_request *req, aigw__body_sink sink,
                                    void *user, aigw__attempt_io *io, aigw__http_result *res,
                                    aigw_error **err) {
    memset(res, 0, sizeof *res);
    CURL *easy = curl_easy_init();
    if (!easy)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    char errbuf[CURL_ERROR_SIZE] = "";
    transfer x = {.easy = easy, .sink = sink, .user = user, .res = res};
    curl_easy_setopt(easy, CURLOPT_SHARE, t->share);
    aigw__transport_setup_easy(easy, b, req, on_body, &x, errbuf, io);
    CURLcode rc = run_transfer(easy, io);
    if (!x.status_known)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_cleanup(easy);

    if (rc == CURLE_OK)
        return AIGW_OK;
    if (res->sink_stopped)
        return AIGW_ESTOPPED; /* the sink's owner reports its own reason */
    if (x.too_big)
        return aigw__error_set_upstream(err, AIGW_EBADRESPONSE, b->name, (int)res->status, NULL, 0,
                                        "backend \"%s\": response larger than %u bytes", b->name,
                                        AIGW__MAX_RESPONSE_BYTES);
    if (rc == CURLE_WRITE_ERROR)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (io && io->first_byte_timeout)
        return aigw__transport_first_byte_error(b, io, err);
    return aigw__transport_map_error(b, rc, errbuf, res->status, x.status_known, x.received, err);
}
