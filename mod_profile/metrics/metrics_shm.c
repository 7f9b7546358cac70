/* Places the metrics block in anonymous shared memory made once per server lifetime
 * (util/shm_block.h), so it outlives graceful restarts. */
#include <string.h>
#include "profile.h"
#include "metrics/metrics_shm.h"
#include "routes/request.h"
#include "routes/routes.h"
#include "util/shm_block.h"

#define PROFILE_METRICS_SHM_KEY "mod_profile-metrics-shm"
#define PROFILE_HANDLED_NOTE "profile-handled"

static profile_metrics_t *profile_metrics_block;

/* FNV-1a over every route's method and pattern: a module whose route indexes mean other
 * routes reformats the block. */
static apr_uint64_t layout_key(void)
{
    apr_uint64_t h = PROFILE_FNV1A_INIT;
    int i;

    for (i = 0; i < profile_route_count; i++) {
        h = profile_fnv1a(h, &profile_routes[i].method, sizeof(profile_routes[i].method));
        h = profile_fnv1a(h, profile_routes[i].pattern, strlen(profile_routes[i].pattern) + 1);
    }
    return h;
}

apr_status_t profile_metrics_shm_setup(server_rec *s)
{
    apr_size_t size = profile_metrics_size();
    void *mem;
    apr_status_t rv;

    if (profile_route_count + 1 > PROFILE_METRICS_MAX_ROUTES) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10560)
                     "metrics hold at most %d routes, the module has %d",
                     PROFILE_METRICS_MAX_ROUTES - 1, profile_route_count);
        return APR_EINVAL;
    }
    rv = profile_shm_block(s, PROFILE_METRICS_SHM_KEY, size, &mem);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10561)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared memory for metrics",
                     size);
        return rv;
    }
    profile_metrics_block = profile_metrics_init(mem, layout_key(),
                                                 profile_route_count + 1, apr_time_now());
    return APR_SUCCESS;
}

profile_metrics_t *profile_metrics_shm(void)
{
    return profile_metrics_block;
}

int profile_metrics_log_transaction(request_rec *r)
{
    request_rec *last = r;
    profile_request_t *pr;
    apr_time_t now;

    if (!profile_metrics_block)
        return DECLINED;
    while (last->next)
        last = last->next;     /* the final request of an internal redirect chain */
    if (!apr_table_get(last->notes, PROFILE_HANDLED_NOTE))
        return DECLINED;
    pr = profile_request_get(last);
    now = apr_time_now();
    profile_metrics_record(profile_metrics_block, pr->route_index, last->status,
                           now - r->request_time, now);
    return DECLINED;
}
