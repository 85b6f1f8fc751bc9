/* SPDX-License-Identifier: Apache-2.0 */
/* Limits shared by the HTTP servers of a process; see http_limits.h. */
#include "server/http_limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include "core/alloc.h"

typedef struct client_entry {
    unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    unsigned int count;
    struct client_entry *next;
} client_entry;

struct aigw__http_limits {
    atomic_uint refs;
    unsigned int max_connections, max_per_client;
    size_t max_body;
    atomic_uint connections;
    atomic_size_t body;
    pthread_mutex_t lock;
    client_entry **buckets;
    size_t nbuckets; /* a power of two */
};

aigw__http_limits *aigw__http_limits_new(unsigned int max_connections,
                                         unsigned int max_connections_per_client,
                                         size_t max_inflight_body_bytes) {
    aigw__http_limits *l = aigw__calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->max_connections = max_connections ? max_connections : AIGW__HTTP_DEF_MAX_CONNECTIONS;
    l->max_per_client = max_connections_per_client ? max_connections_per_client
                                                   : AIGW__HTTP_DEF_MAX_CONNECTIONS_PER_CLIENT;
    l->max_body =
        max_inflight_body_bytes ? max_inflight_body_bytes : AIGW__HTTP_DEF_MAX_INFLIGHT_BODY;
    /* About one bucket per admitted connection, within reason. */
    l->nbuckets = 64;
    while (l->nbuckets < l->max_connections && l->nbuckets < 65536)
        l->nbuckets *= 2;
    if (!(l->buckets = aigw__calloc(l->nbuckets, sizeof(*l->buckets)))) {
        aigw__free(l);
        return NULL;
    }
    atomic_init(&l->refs, 1);
    atomic_init(&l->connections, 0);
    atomic_init(&l->body, 0);
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

aigw__http_limits *aigw__http_limits_ref(aigw__http_limits *l) {
    if (l)
        atomic_fetch_add(&l->refs, 1);
    return l;
}

void aigw__http_limits_unref(aigw__http_limits *l) {
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    for (size_t i = 0; i < l->nbuckets; i++) {
        client_entry *e = l->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            aigw__free(e);
        }
    }
    aigw__free(l->buckets);
    pthread_mutex_destroy(&l->lock);
    aigw__free(l);
}

/* The peer's address as 16 bytes; 0 if it has none we know. */
static int addr_key(const struct sockaddr *sa, unsigned char key[16]) {
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 1;
    }
    return 0;
}

static size_t addr_hash(const unsigned char key[16]) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

aigw__http_admit aigw__http_limits_enter(aigw__http_limits *l, const struct sockaddr *addr) {
    if (atomic_fetch_add(&l->connections, 1) >= l->max_connections) {
        atomic_fetch_sub(&l->connections, 1);
        return AIGW__HTTP_ADMIT_FULL;
    }
    unsigned char key[16];
    if (!addr_key(addr, key))
        return AIGW__HTTP_ADMIT_OK;
    aigw__http_admit verdict = AIGW__HTTP_ADMIT_OK;
    pthread_mutex_lock(&l->lock);
    client_entry **b = &l->buckets[addr_hash(key) & (l->nbuckets - 1)], *e = *b;
    while (e && memcmp(e->addr, key, 16) != 0)
        e = e->next;
    if (!e && (e = aigw__calloc(1, sizeof(*e))) != NULL) {
        memcpy(e->addr, key, 16);
        e->next = *b;
        *b = e;
    }
    if (!e || e->count >= l->max_per_client)
        verdict = e ? AIGW__HTTP_ADMIT_CLIENT_FULL : AIGW__HTTP_ADMIT_FULL;
    else
        e->count++;
    pthread_mutex_unlock(&l->lock);
    if (verdict != AIGW__HTTP_ADMIT_OK)
        atomic_fetch_sub(&l->connections, 1);
    return verdict;
}

void aigw__http_limits_leave(aigw__http_limits *l, const struct sockaddr *addr) {
    atomic_fetch_sub(&l->connections, 1);
    unsigned char key[16];
    if (!addr_key(addr, key))
        return;
    pthread_mutex_lock(&l->lock);
    client_entry **pp = &l->buckets[addr_hash(key) & (l->nbuckets - 1)];
    while (*pp && memcmp((*pp)->addr, key, 16) != 0)
        pp = &(*pp)->next;
    client_entry *e = *pp;
    if (e && --e->count == 0) {
        *pp = e->next;
        aigw__free(e);
    }
    pthread_mutex_unlock(&l->lock);
}

unsigned int aigw__http_limits_connections(const aigw__http_limits *l) {
    return l ? atomic_load(&((aigw__http_limits *)l)->connections) : 0;
}

int aigw__http_limits_body_fits(const aigw__http_limits *l, size_t n) {
    size_t held = atomic_load(&((aigw__http_limits *)l)->body);
    return n <= l->max_body && held <= l->max_body - n;
}

int aigw__http_limits_body_take(aigw__http_limits *l, size_t n) {
    size_t held = atomic_load(&l->body);
    do {
        if (n > l->max_body || held > l->max_body - n)
            return -1;
    } while (!atomic_compare_exchange_weak(&l->body, &held, held + n));
    return 0;
}

void aigw__http_limits_body_give(aigw__http_limits *l, size_t n) {
    if (l && n)
        atomic_fetch_sub(&l->body, n);
}

size_t aigw__http_limits_body_held(const aigw__http_limits *l) {
    return l ? atomic_load(&((aigw__http_limits *)l)->body) : 0;
}
