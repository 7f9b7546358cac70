/* The table behind the count of open WebSocket streams per principal.
 *
 * One slot per open proxied stream: each slot is one 64-bit word, (pid << 32 | 32-bit tag of
 * the principal), 0 when free, claimed and freed with compare-and-swap, so no lock is held
 * across processes. A slot whose process died without freeing it (crash, SIGKILL) is reclaimed
 * by the next scan that finds the pid gone. Pure layout code over any memory block, with the
 * liveness check passed in (unit tested); ws_slots.c puts it in shared memory. */
#ifndef PROFILE_WS_TABLE_H
#define PROFILE_WS_TABLE_H

#include <apr.h>

#define PROFILE_WS_OVER_LIMIT (-1)
#define PROFILE_WS_TABLE_FULL (-2)

typedef struct profile_ws_table_t profile_ws_table_t;

/* 1 when process pid still runs. */
typedef int (*profile_ws_alive_fn)(apr_uint32_t pid);

apr_size_t profile_ws_table_size(apr_uint32_t slots);
/* Formats mem unless it already holds a table of this many slots (restarts keep the counts). */
profile_ws_table_t *profile_ws_table_init(void *mem, apr_uint32_t slots);
apr_uint32_t profile_ws_table_slots(const profile_ws_table_t *t);

/* Claims a slot for (tag, pid). With max > 0 the claim stands only while the principal then
 * holds at most max slots; otherwise it is given back and PROFILE_WS_OVER_LIMIT returned.
 * (Claim first, count after: two racing claims may both be refused at the limit, never both
 * admitted above it.) Returns the slot index, or PROFILE_WS_TABLE_FULL. *open gets the
 * principal's streams counted (its own included when admitted). */
int profile_ws_table_acquire(profile_ws_table_t *t, apr_uint32_t tag, apr_uint32_t pid, int max,
                             profile_ws_alive_fn alive, int *open);
/* Frees slot if it still holds (tag, pid). */
void profile_ws_table_release(profile_ws_table_t *t, int slot, apr_uint32_t tag, apr_uint32_t pid);
/* Streams open in all processes (dead processes' slots are reclaimed on the way). */
int profile_ws_table_count(profile_ws_table_t *t, profile_ws_alive_fn alive);

/* The 32-bit tag of a principal name ("key:<id>", "user:<id>", "static:<name>"). */
apr_uint32_t profile_ws_tag(const char *principal);

#endif
