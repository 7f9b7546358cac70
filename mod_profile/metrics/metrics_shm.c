/* Places the metrics block in anonymous shared memory made once per server lifetime:
 * the segment belongs to the process pool, so it outlives graceful restarts, and
 * children inherit the mapping over fork. */
#include <apr_shm.h>
#include <string.h>
#include "profile.h"
#include "metrics/metrics_shm.h"
#include "routes/request.h"
#include "routes/routes.h"

#define PROFILE_METRICS_SHM_KEY "mod_profile-metrics-shm"
#define PROFILE_HANDLED_NOTE "profile-handled"

static profile_metrics_t *profile_metrics_block;

/* FNV-1a over every route's method and pattern: a module whose route indexes mean other
 * routes reformats the block. */
static apr_uint64_t fnv1a(apr_uint64_t h, const void *data, apr_size_t len)
{
    const unsigned char *b = data;

    while (len--)
        h = (h ^ *b++) * 0x100000001b3ULL;
    return h;
}

static apr_uint64_t layout_key(void)
{
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    int i;

    for (i = 0; i < profile_route_count; i++) {
        h = fnv1a(h, &profile_routes[i].method, sizeof(profile_routes[i].method));
        h = fnv1a(h, profile_routes[i].pattern, strlen(profile_routes[i].pattern) + 1);
    }
    return h;
}

apr_status_t profile_metrics_shm_setup(server_rec *s)
{
    apr_pool_t *proc = s->process->pool;
    apr_size_t size = profile_metrics_size();
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    if (profile_route_count + 1 > PROFILE_METRICS_MAX_ROUTES) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10560)
                     "metrics hold at most %d routes, the module has %d",
                     PROFILE_METRICS_MAX_ROUTES - 1, profile_route_count);
        return APR_EINVAL;
    }
    apr_pool_userdata_get((void **)&shm, PROFILE_METRICS_SHM_KEY, proc);
    if (shm && apr_shm_size_get(shm) < size) {
        /* Left by an older module build with a smaller layout; its children keep their
         * own mapping until they exit. */
        apr_shm_destroy(shm);
        shm = NULL;
    }
    if (!shm) {
        rv = apr_shm_create(&shm, size, NULL, proc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10561)
                         "cannot create %" APR_SIZE_T_FMT " bytes of shared memory for metrics",
                         size);
            return rv;
        }
        /* No cleanup function: this module is unloaded on restart, the pool is not. */
        apr_pool_userdata_set(shm, PROFILE_METRICS_SHM_KEY, apr_pool_cleanup_null, proc);
    }
    profile_metrics_block = profile_metrics_init(apr_shm_baseaddr_get(shm), layout_key(),
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
