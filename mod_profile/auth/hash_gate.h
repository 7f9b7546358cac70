/* Per-process bound on password hashes computed at once (argon2id needs m KiB each), so a
 * burst of logins answers 503 instead of piling up memory. Never blocks. */
#ifndef PROFILE_HASH_GATE_H
#define PROFILE_HASH_GATE_H

#include <apr_pools.h>

#define PROFILE_HASH_GATE_DEFAULT 4

/* child_init: sets the bound (values below 1 count as 1); may be called again. Before it is
 * called the bound is PROFILE_HASH_GATE_DEFAULT. */
apr_status_t profile_hash_gate_init(apr_pool_t *p, int max);
/* 1 when a slot was taken (call profile_hash_gate_leave afterwards), 0 when all are busy. */
int profile_hash_gate_enter(void);
void profile_hash_gate_leave(void);

#endif
