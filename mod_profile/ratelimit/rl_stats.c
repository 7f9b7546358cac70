/* Places the rate-limit analytics block in shared memory kept across graceful restarts
 * (util/shm_block.h) and answers the analytics calls of rl_stats.h. */
#include "ratelimit/rl_stats.h"
#include "ratelimit/rl_stats_block.h"
#include "util/respond.h"
#include "util/shm_block.h"

#define PROFILE_RL_STATS_SHM_KEY "mod_profile-rl-stats-shm"

static profile_rl_stats_block_t *rl_stats_block;

apr_status_t profile_rl_stats_setup(server_rec *s)
{
    void *base;
    apr_status_t rv = profile_shm_block(s, PROFILE_RL_STATS_SHM_KEY,
                                        profile_rl_stats_block_size(), &base);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10730)
                     "cannot create the shared memory for rate-limit analytics");
        return rv;
    }
    rl_stats_block = profile_rl_stats_block_init(base);
    return APR_SUCCESS;
}

void profile_rl_stats_count(const char *policy, int limited, const char *who, apr_time_t now)
{
    if (rl_stats_block)
        profile_rl_stats_block_count(rl_stats_block, policy, limited, who, now);
}

void profile_rl_stats_fallback(void)
{
    if (rl_stats_block)
        profile_rl_stats_block_fallback(rl_stats_block);
}

json_t *profile_rl_stats_json(void)
{
    if (!rl_stats_block)
        return json_pack("{s:{},s:i}", "policies", "redis_fallbacks", 0);
    return profile_rl_stats_block_json(rl_stats_block);
}

json_t *profile_rl_stats_top(apr_pool_t *p, int limit, apr_time_t now)
{
    profile_rl_stats_top_t *top;
    json_t *a = json_array();
    int i, n;

    if (!rl_stats_block || limit < 1)
        return a;
    if (limit > PROFILE_RL_STATS_PRINCIPALS)
        limit = PROFILE_RL_STATS_PRINCIPALS;
    top = apr_palloc(p, sizeof(*top) * (apr_size_t)limit);
    n = profile_rl_stats_block_top(rl_stats_block, now, top, limit);
    for (i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "principal", top[i].principal,
                                           "limited", (json_int_t)top[i].limited,
                                           "last_limited_at",
                                           profile_iso8601(p, top[i].last_limited_at)));
    return a;
}
