/* Server lifecycle: process-wide library set-up and shared memory in post_config,
 * per-process database pools in child_init. */
#include <apr_hash.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <http_core.h>

#include "lifecycle/lifecycle.h"
#include "auth/authn.h"
#include "auth/hash_gate.h"
#include "config/config.h"
#include "cache/cache.h"
#include "cache/cache_stats.h"
#include "cache/flight.h"
#include "http/scrape.h"
#include "metrics/metrics_shm.h"
#include "profiles/worker.h"
#include "ratelimit/rl_shm.h"
#include "ratelimit/rl_stats.h"
#include "store/pg_pool.h"
#include "util/redis_pool.h"
#include "ws/ws_slots.h"

#define CURL_READY_KEY "profile_curl_global_init"

/* curl_global_init is not thread-safe and must run once per process, before any thread:
 * the flag lives in the process pool because the module itself is reloaded on restart. */
static void init_curl_once(server_rec *s)
{
    void *done = NULL;
    apr_pool_userdata_get(&done, CURL_READY_KEY, s->process->pool);
    if (done)
        return;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apr_pool_userdata_set((void *)1, CURL_READY_KEY, apr_pool_cleanup_null, s->process->pool);
}

int profile_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int rc = profile_auth_check_config(pconf, plog, ptemp, s);
    if (rc == OK)
        rc = profile_ws_check_config(s);
    for (; rc == OK && s; s = s->next) {
        const profile_server_config_t *c = profile_server_config(s);
        if (profile_rl_backend(&c->rl) == PROFILE_RL_REDIS && !c->redis) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10492)
                         "ProfileRateLimitBackend redis needs ProfileRedis");
            rc = !OK;
        }
    }
    return rc;
}

int profile_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;
    (void)pconf;
    (void)plog;
    (void)ptemp;

    /* httpd reads its configuration twice at start-up; set up only on the real pass. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    init_curl_once(s);
    for (server_rec *vs = s; vs; vs = vs->next) {
        const char *err = profile_auth_config_finish(pconf, vs, &profile_server_config(vs)->auth);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs, APLOGNO(10491) "%s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    rv = profile_metrics_shm_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_rl_shm_setup(
            s, (apr_size_t)profile_rl_table_size_of(&profile_server_config(s)->rl));
    if (rv == APR_SUCCESS)
        rv = profile_rl_stats_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_cache_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_flight_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_cache_stats_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_scrape_setup(s);
    if (rv == APR_SUCCESS)
        rv = profile_ws_slots_setup(s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10490)
                     "cannot create the shared memory for metrics, rate limits, the "
                     "profile cache and WebSocket streams");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Virtual hosts that inherit or repeat the same database settings share one pool. */
static const char *pool_key(apr_pool_t *p, const profile_server_config_t *c)
{
    return apr_psprintf(p, "%d/%d/%d/%s", profile_db_pool_min(c), profile_db_pool_max(c),
                        profile_db_timeout_s(c), c->database);
}

void profile_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *main_server = s;
    apr_hash_t *pools = apr_hash_make(pchild);
    profile_auth_child_init(pchild, s);
    profile_redis_pool_child_init(pchild, s);
    profile_scrape_child_init(pchild, s);
    profile_hash_gate_init(pchild, profile_auth_hash_concurrency(&profile_server_config(s)->auth));
    for (; s; s = s->next) {
        profile_server_config_t *c = profile_server_config(s);
        const char *key;
        if (!c->database)
            continue;
        key = pool_key(pchild, c);
        c->db_pool = apr_hash_get(pools, key, APR_HASH_KEY_STRING);
        if (!c->db_pool) {
            c->db_pool = profile_db_pool_create(pchild, s, c->database, profile_db_pool_min(c),
                                                profile_db_pool_max(c), profile_db_timeout_s(c));
            apr_hash_set(pools, key, APR_HASH_KEY_STRING, c->db_pool);
        }
    }
    profile_worker_child_init(pchild, main_server);
}

apr_int64_t profile_uptime_s(void)
{
    profile_metrics_t *m = profile_metrics_shm();
    return m ? apr_time_sec(apr_time_now() - profile_metrics_started(m)) : 0;
}
