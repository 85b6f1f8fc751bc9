/* SPDX-License-Identifier: Apache-2.0 */
/* Internal allocation wrappers: every allocation libaigw makes goes through
 * these, so aigw_set_allocator() covers them and sizes are overflow-checked.
 * Each returns NULL on failure; callers turn that into AIGW_ENOMEM. */
#ifndef AIGW_CORE_ALLOC_H
#define AIGW_CORE_ALLOC_H

#include <stddef.h>

void *aigw__malloc(size_t size);
void *aigw__calloc(size_t count, size_t size);
void *aigw__realloc(void *ptr, size_t size);
/* realloc to count*size, NULL (ptr untouched) if the product overflows. */
void *aigw__reallocarray(void *ptr, size_t count, size_t size);
void aigw__free(void *ptr);
char *aigw__strdup(const char *s);
char *aigw__strndup(const char *s, size_t len);

#endif
