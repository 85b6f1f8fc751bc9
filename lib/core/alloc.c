/* SPDX-License-Identifier: Apache-2.0 */
/* The replaceable allocator and its overflow-checked wrappers. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/common.h"

static aigw_malloc_fn active_malloc = malloc;
static aigw_realloc_fn active_realloc = realloc;
static aigw_calloc_fn active_calloc = calloc;
static aigw_free_fn active_free = free;
/* Once anything was allocated, switching allocators would free memory with
 * the wrong function; aigw_set_allocator refuses from then on. */
static atomic_int allocated_once;

int aigw_set_allocator(aigw_malloc_fn malloc_fn, aigw_realloc_fn realloc_fn,
                       aigw_calloc_fn calloc_fn, aigw_free_fn free_fn) {
    if (!malloc_fn || !realloc_fn || !calloc_fn || !free_fn)
        return 1; /* AIGW_EINVAL */
    if (atomic_load(&allocated_once))
        return 1;
    active_malloc = malloc_fn;
    active_realloc = realloc_fn;
    active_calloc = calloc_fn;
    active_free = free_fn;
    return 0;
}

void *aigw__malloc(size_t size) {
    atomic_store_explicit(&allocated_once, 1, memory_order_relaxed);
    return active_malloc(size ? size : 1);
}

void *aigw__calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size)
        return NULL;
    atomic_store_explicit(&allocated_once, 1, memory_order_relaxed);
    return active_calloc(count ? count : 1, size ? size : 1);
}

void *aigw__realloc(void *ptr, size_t size) {
    atomic_store_explicit(&allocated_once, 1, memory_order_relaxed);
    return active_realloc(ptr, size ? size : 1);
}

void *aigw__reallocarray(void *ptr, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size)
        return NULL;
    return aigw__realloc(ptr, count * size);
}

void aigw__free(void *ptr) {
    if (ptr)
        active_free(ptr);
}

void aigw_free(void *ptr) {
    aigw__free(ptr);
}

char *aigw__strndup(const char *s, size_t len) {
    if (len == SIZE_MAX)
        return NULL;
    char *copy = aigw__malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *aigw__strdup(const char *s) {
    return s ? aigw__strndup(s, strlen(s)) : NULL;
}
