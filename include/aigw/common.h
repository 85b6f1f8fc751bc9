/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — common definitions shared by every public header. */
#ifndef AIGW_COMMON_H
#define AIGW_COMMON_H

#include <stddef.h>

#if defined(_WIN32) && defined(AIGW_BUILDING_SHARED)
#define AIGW_EXTERN __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define AIGW_EXTERN __attribute__((visibility("default")))
#else
#define AIGW_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Frees memory the library handed to the caller (response strings, text
 * extracted by the helpers). aigw_free(NULL) is a no-op. */
AIGW_EXTERN void aigw_free(void *ptr);

/* Replaces the allocator used for every allocation libaigw makes itself and,
 * when called before the first client is created, for libcurl's too.
 * json-c has no allocator hook, so its allocations stay on malloc.
 * Call it once, before any other aigw_* call, from one thread; all four
 * functions are required. Returns AIGW_EINVAL (1) if one is NULL or if the
 * library has already allocated with the previous allocator. */
typedef void *(*aigw_malloc_fn)(size_t size);
typedef void *(*aigw_realloc_fn)(void *ptr, size_t size);
typedef void *(*aigw_calloc_fn)(size_t count, size_t size);
typedef void (*aigw_free_fn)(void *ptr);
AIGW_EXTERN int aigw_set_allocator(aigw_malloc_fn malloc_fn, aigw_realloc_fn realloc_fn,
                                   aigw_calloc_fn calloc_fn, aigw_free_fn free_fn);

#ifdef __cplusplus
}
#endif

#endif
