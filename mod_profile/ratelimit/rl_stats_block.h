/* The layout of the rate-limit analytics block: per-policy counters, a Redis fallback counter
 * and a table of the principals limited most over the last hour. Pure code that works on any
 * memory block (unit tested); rl_stats.c places it in httpd's shared memory. */
#ifndef PROFILE_RL_STATS_BLOCK_H
#define PROFILE_RL_STATS_BLOCK_H

#include <jansson.h>
#include <apr_pools.h>
#include <apr_time.h>

#define PROFILE_RL_STATS_POLICIES 64      /* further policies are not counted */
#define PROFILE_RL_STATS_POLICY_NAME 32
#define PROFILE_RL_STATS_PRINCIPALS 256
#define PROFILE_RL_STATS_WHO_MAX 96       /* longer principal names are cut */
#define PROFILE_RL_STATS_MINUTES 60

typedef struct profile_rl_stats_block_t profile_rl_stats_block_t;

typedef struct {
    char principal[PROFILE_RL_STATS_WHO_MAX + 1];
    apr_uint64_t limited;      /* over the last hour */
    apr_time_t last_limited_at;
} profile_rl_stats_top_t;

apr_size_t profile_rl_stats_block_size(void);
/* Formats mem unless it already holds a block of this layout (a graceful restart). */
profile_rl_stats_block_t *profile_rl_stats_block_init(void *mem);

/* Safe from any thread of any process that maps the block. */
void profile_rl_stats_block_count(profile_rl_stats_block_t *b, const char *policy, int limited,
                                  const char *who, apr_time_t now);
void profile_rl_stats_block_fallback(profile_rl_stats_block_t *b);

/* {"policies":{"<name>":{"allowed":n,"limited":n}},"redis_fallbacks":n} */
json_t *profile_rl_stats_block_json(const profile_rl_stats_block_t *b);
/* Fills out (room for max entries) with the principals limited in the hour before now, most
 * limited first (ties: most recent first); returns how many. */
int profile_rl_stats_block_top(profile_rl_stats_block_t *b, apr_time_t now,
                               profile_rl_stats_top_t *out, int max);

#endif
