/* SPDX-License-Identifier: Apache-2.0 */
/* Epoch-based reclamation for lock-free readers; see epoch.h. */
#include "account/epoch.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"

/* One per thread that ever entered, process-wide (shared by
 * every memory store), reused after its thread exits; never freed. */
struct aigw__epoch_slot {
    _Atomic uint64_t state; /* 0: outside; epoch * 2 + 1: inside a lookup */
    atomic_int owned;
    struct aigw__epoch_slot *next;
    char pad[64];
};

static aigw__epoch_slot *_Atomic slots;
static _Atomic uint64_t ebr_epoch = 1;
static pthread_once_t ebr_once = PTHREAD_ONCE_INIT;
static pthread_key_t ebr_key;
static _Thread_local aigw__epoch_slot *ebr_mine;

static void ebr_release(void *p) {
    aigw__epoch_slot *s = p;
    atomic_store(&s->state, 0);
    atomic_store(&s->owned, 0);
}

static void ebr_init(void) {
    pthread_key_create(&ebr_key, ebr_release);
}

static aigw__epoch_slot *slot_get(void) {
    if (ebr_mine)
        return ebr_mine;
    pthread_once(&ebr_once, ebr_init);
    aigw__epoch_slot *s;
    for (s = atomic_load(&slots); s; s = s->next) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong(&s->owned, &free_slot, 1))
            break;
    }
    if (!s) {
        if (!(s = aigw__calloc(1, sizeof *s)))
            return NULL;
        atomic_init(&s->owned, 1);
        s->next = atomic_load(&slots);
        while (!atomic_compare_exchange_weak(&slots, &s->next, s))
            ;
    }
    pthread_setspecific(ebr_key, s);
    ebr_mine = s;
    return s;
}

aigw__epoch_slot *aigw__epoch_enter(void) {
    aigw__epoch_slot *s = slot_get();
    if (s)
        atomic_exchange(&s->state, atomic_load(&ebr_epoch) * 2 + 1);
    return s;
}

void aigw__epoch_leave(aigw__epoch_slot *s) {
    atomic_store_explicit(&s->state, 0, memory_order_release);
}

void aigw__epoch_try_advance(void) {
    uint64_t e = atomic_load(&ebr_epoch);
    for (aigw__epoch_slot *s = atomic_load(&slots); s; s = s->next) {
        uint64_t st = atomic_load(&s->state);
        if ((st & 1) && st >> 1 != e)
            return;
    }
    atomic_compare_exchange_strong(&ebr_epoch, &e, e + 1);
}

uint64_t aigw__epoch_current(void) {
    return atomic_load(&ebr_epoch);
}
