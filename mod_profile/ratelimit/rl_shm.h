/* The server-wide rate-limit table in shared memory (see rl_table.h). */
#ifndef PROFILE_RL_SHM_H
#define PROFILE_RL_SHM_H

#include "profile.h"
#include "ratelimit/rl_table.h"

/* post_config: creates the block once per server lifetime (kept across graceful restarts;
 * replaced when ProfileRateLimitTableSize changes). */
apr_status_t profile_rl_shm_setup(server_rec *s, apr_size_t capacity);
/* The table, or NULL before post_config. */
profile_rl_table_t *profile_rl_shm_table(void);

#endif
