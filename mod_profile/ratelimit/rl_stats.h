/* Rate-limit analytics in shared memory, across all child processes: allowed/limited counts per
 * policy, Redis fallbacks, and the principals limited most over the last hour. */
#ifndef PROFILE_RL_STATS_H
#define PROFILE_RL_STATS_H

#include <jansson.h>
#include "profile.h"

/* post_config: created once per server lifetime. */
apr_status_t profile_rl_stats_setup(server_rec *s);

/* One decision of policy for who (the principal name, else the client IP). */
void profile_rl_stats_count(const char *policy, int limited, const char *who, apr_time_t now);
/* A decision taken locally because Redis failed. */
void profile_rl_stats_fallback(void);

/* {"policies":{"<name>":{"allowed":n,"limited":n}},"redis_fallbacks":n} */
json_t *profile_rl_stats_json(void);
/* [{"principal","limited","last_limited_at"}], most limited first, over the last hour. */
json_t *profile_rl_stats_top(apr_pool_t *p, int limit, apr_time_t now);

#endif
