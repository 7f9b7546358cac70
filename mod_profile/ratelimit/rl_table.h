/* The shm backend: one fixed-capacity table of (64-bit key hash, TAT) slots in a memory block
 * shared by every child process. Pure layout code (works on any block, unit tested); the block
 * itself is created once per server lifetime in post_config (rl_shm.c) so it survives graceful
 * restarts, like the metrics block. */
#ifndef PROFILE_RL_TABLE_H
#define PROFILE_RL_TABLE_H

#include <apr.h>
#include <apr_time.h>
#include "ratelimit/gcra.h"

typedef struct profile_rl_table_t profile_rl_table_t;

apr_size_t profile_rl_table_size(apr_size_t capacity);
/* Formats mem unless it already holds a table of this capacity (restart keeps the state). */
profile_rl_table_t *profile_rl_table_init(void *mem, apr_size_t capacity);

/* Applies g to the slot of key (lock-free: compare-and-swap on the slot's TAT; argued in
 * rl_table.c). 0 with *out set; -1 when no slot could be had (table full of live keys, see
 * rl_table.c for the documented behaviour). */
int profile_rl_table_decide(profile_rl_table_t *t, apr_uint64_t key, const profile_gcra_t *g,
                            apr_int64_t now, profile_gcra_result_t *out);

/* 64-bit FNV-1a of s; hash of the policy name, a NUL and the dimension value. */
apr_uint64_t profile_rl_key(const char *policy, const char *value);

#endif
