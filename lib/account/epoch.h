/* SPDX-License-Identifier: Apache-2.0 */
/* Epoch-based reclamation (EBR), process-wide: when may memory that
 * lock-free readers could be walking over be freed?
 *
 * A reader brackets its walk with aigw__epoch_enter / aigw__epoch_leave:
 * its thread's slot holds the global epoch meanwhile (the exchange that
 * announces it is a full barrier, so it is visible before any pointer is
 * read). A writer unlinks an object, tags it with aigw__epoch_current(),
 * and frees it once the current epoch is at least tag + 2;
 * aigw__epoch_try_advance moves the epoch on only when every reader
 * inside has seen the current one. A reader that announced epoch e keeps
 * the epoch at most e + 1 until it leaves, so an object it could have
 * reached (unlinked at epoch <= e + 1) is not freed under it.
 *
 * Slots: one per thread that ever entered, reused after the thread exits
 * (a pthread key's destructor), never freed; shared by every user. */
#ifndef AIGW_ACCOUNT_EPOCH_H
#define AIGW_ACCOUNT_EPOCH_H

#include <stdint.h>

typedef struct aigw__epoch_slot aigw__epoch_slot;

/* NULL when out of memory (the thread's first slot). */
aigw__epoch_slot *aigw__epoch_enter(void);
void aigw__epoch_leave(aigw__epoch_slot *s);
uint64_t aigw__epoch_current(void);
void aigw__epoch_try_advance(void);

#endif
