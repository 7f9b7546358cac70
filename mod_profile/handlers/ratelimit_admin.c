/* GET /admin/rate-limits: allowed/limited counts per policy, Redis fallbacks and the
 * principals limited most over the last hour, across all child processes. */
#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "ratelimit/rl_stats.h"
#include "util/respond.h"

#define TOP_WINDOW_S 3600
#define TOP_LIMIT_DEFAULT 20
#define TOP_LIMIT_MAX 100

int profile_handle_admin_rate_limits(profile_request_t *pr)
{
    apr_int64_t limit;
    json_t *body, *stats;

    if (profile_query_int(pr, "limit", 1, TOP_LIMIT_MAX, TOP_LIMIT_DEFAULT, &limit) != 0)
        return OK;     /* the 400 answer is sent */
    body = json_pack("{s:i}", "window_s", TOP_WINDOW_S);
    stats = profile_rl_stats_json();
    json_object_update(body, stats);
    json_decref(stats);
    json_object_set_new(body, "top_limited",
                        profile_rl_stats_top(pr->r->pool, (int)limit, apr_time_now()));
    return profile_send_json(pr, HTTP_OK, body);
}
