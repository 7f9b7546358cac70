/* The fixups hook: every policy of the request's directory is decided by the shm table or
 * Redis; a refusal answers 429. Requests without a policy leave at the first test. */
#include <apr_atomic.h>
#include <apr_strings.h>
#include <string.h>

#include "ratelimit/ratelimit.h"
#include "ratelimit/rl_headers.h"
#include "ratelimit/rl_redis.h"
#include "ratelimit/rl_shm.h"
#include "ratelimit/rl_stats.h"
#include "auth/authn.h"
#include "config/config.h"
#include "routes/dispatch.h"
#include "util/respond.h"

#define MAX_HEADER_VALUE 128
#define MAX_ROUTE_VALUE  256
#define STACK_DECISIONS  8
#define REDIS_RETRY_US   APR_USEC_PER_SEC
/* The pool key under which authn.c keeps the api_key of a WebSocket upgrade. */

/* Per process. After a Redis failure decisions skip Redis until redis_retry_at (µs), so an
 * outage costs one timeout a second, not one per request; redis_outage makes the warning
 * once per outage. */
static volatile apr_uint64_t redis_retry_at;
static volatile apr_uint32_t redis_outage;
static volatile apr_uint32_t table_full_warned;

/* The principal when a policy or an exemption needs it and credentials are present. A failure
 * counts as unauthenticated: the route or Location answers 401 itself. */
static const profile_principal_t *principal_of(request_rec *r, const profile_rl_dir_config_t *c)
{
    const profile_principal_t *p = NULL;
    profile_authn_failure_t why;
    int needed = c->exempt_roles || c->exempt_scopes, i;

    for (i = 0; i < c->policies->nelts && !needed; i++) {
        profile_rl_by_t by = APR_ARRAY_IDX(c->policies, i, profile_rl_policy_t).by;
        needed = by == PROFILE_RL_BY_KEY || by == PROFILE_RL_BY_USER;
    }
    if (!needed || !profile_authn_has_credentials(r))
        return NULL;
    return profile_authenticate(r, &p, &why) == OK ? p : NULL;
}

static int exempt(const profile_rl_dir_config_t *c, const profile_principal_t *p)
{
    unsigned bit;
    if (c->exempt_roles & (1u << p->role))
        return 1;
    for (bit = 1; bit <= PROFILE_SCOPE_ALL; bit <<= 1)
        if ((c->exempt_scopes & bit) && profile_scopes_cover(p->scopes, bit))
            return 1;
    return 0;
}

static const char *bounded(apr_pool_t *pool, const char *s, apr_size_t max, const char *absent)
{
    if (!s)
        return absent;
    return strlen(s) > max ? apr_pstrmemdup(pool, s, max) : s;
}

static const char *user_value(request_rec *r, const profile_principal_t *p)
{
    return apr_psprintf(r->pool, "user:%" APR_INT64_T_FMT, p->user_id);
}

static const char *dimension(request_rec *r, const profile_rl_policy_t *pol,
                             const profile_principal_t *p)
{
    switch (pol->by) {
    case PROFILE_RL_BY_KEY:
        if (p)
            return p->kind == PROFILE_PRINCIPAL_USER ? user_value(r, p) : p->name;
        break;
    case PROFILE_RL_BY_USER:
        if (p)
            return p->kind == PROFILE_PRINCIPAL_STATIC_KEY ? p->name : user_value(r, p);
        break;
    case PROFILE_RL_BY_IP:
        return r->useragent_ip;
    case PROFILE_RL_BY_HEADER:
        return bounded(r->pool, apr_table_get(r->headers_in, pol->header), MAX_HEADER_VALUE, "-");
    case PROFILE_RL_BY_ROUTE:
        return bounded(r->pool, r->uri, MAX_ROUTE_VALUE, "/");
    }
    return apr_pstrcat(r->pool, "ip:", r->useragent_ip, NULL);
}

/* OK with *res set, DECLINED when the table has no slot for the key (the policy is skipped). */
static int shm_decide(request_rec *r, const char *policy, const char *value,
                      const profile_gcra_t *g, apr_time_t now, profile_gcra_result_t *res)
{
    profile_rl_table_t *t = profile_rl_shm_table();
    if (t && profile_rl_table_decide(t, profile_rl_key(policy, value), g, now, res) == 0)
        return OK;
    if (apr_atomic_cas32(&table_full_warned, 1, 0) == 0)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10700)
                      "rate-limit table %s: requests without a slot are not limited "
                      "(raise ProfileRateLimitTableSize; logged once per process)",
                      t ? "full" : "missing");
    return DECLINED;
}

/* OK with *res set; DECLINED to skip the policy (Redis down, on_failure open);
 * HTTP_SERVICE_UNAVAILABLE (Redis down, on_failure closed). */
static int redis_decide(request_rec *r, const profile_rl_server_config_t *sc, const char *policy,
                        const char *value, const profile_gcra_t *g, profile_gcra_result_t *res)
{
    static const char *const fallback[] = { "taken locally", "skipped", "refused with 503" };
    apr_time_t now = apr_time_now();
    profile_rl_on_failure_t on_failure = profile_rl_on_failure(sc);

    if ((apr_uint64_t)now >= apr_atomic_read64(&redis_retry_at)) {
        if (profile_rl_redis_decide(r, apr_pstrcat(r->pool, policy, ":", value, NULL), g, res)
            == 0) {
            if (apr_atomic_cas32(&redis_outage, 0, 1) == 1)
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, APLOGNO(10701)
                              "Redis answers again: rate-limit decisions are shared again");
            return OK;
        }
        apr_atomic_set64(&redis_retry_at, (apr_uint64_t)(now + REDIS_RETRY_US));
        if (apr_atomic_cas32(&redis_outage, 1, 0) == 0)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10702)
                          "Redis failed: rate-limit decisions are %s until it answers again "
                          "(retried every second)", fallback[on_failure]);
    }
    if (on_failure == PROFILE_RL_FAIL_OPEN)
        return DECLINED;
    if (on_failure == PROFILE_RL_FAIL_CLOSED)
        return HTTP_SERVICE_UNAVAILABLE;
    profile_rl_stats_fallback();
    return shm_decide(r, policy, value, g, now, res);
}

static void set_headers(request_rec *r, const profile_rl_decision_t *d, int n)
{
    profile_rl_headers_t h;
    profile_rl_format_headers(r->pool, d, n, &h);
    apr_table_setn(r->err_headers_out, "RateLimit-Policy", h.policy);
    apr_table_setn(r->err_headers_out, "RateLimit", h.ratelimit);
    apr_table_setn(r->err_headers_out, "X-RateLimit-Limit", h.limit);
    apr_table_setn(r->err_headers_out, "X-RateLimit-Remaining", h.remaining);
    apr_table_setn(r->err_headers_out, "X-RateLimit-Reset", h.reset);
}

/* The handler never runs for a refused request: the API's own header is set here. */
static profile_request_t *api_request(request_rec *r)
{
    if (r->handler && !strcmp(r->handler, PROFILE_HANDLER_NAME))
        apr_table_setn(r->err_headers_out, "API-Version", PROFILE_API_VERSION);
    return profile_request_get(r);
}

static int refuse(request_rec *r, const profile_rl_decision_t *d, apr_int64_t retry_us)
{
    int retry_s = (int)profile_rl_ceil_s(retry_us);
    json_t *details;
    int rc;

    if (retry_s < 1)
        retry_s = 1;
    details = json_pack("{s:s, s:i, s:i, s:i}", "policy", d->policy, "limit", d->limit,
                        "window", d->window_s, "retry_after_s", retry_s);
    apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, retry_s));
    rc = profile_send_error(api_request(r), HTTP_TOO_MANY_REQUESTS, "rate_limited",
                            details, "rate limit '%s' exceeded (%d requests per %d s); "
                            "retry in %d s", d->policy, d->limit, d->window_s, retry_s);
    return rc == OK ? DONE : rc;
}

static int enforce(request_rec *r, const profile_rl_dir_config_t *c)
{
    const profile_rl_server_config_t *sc = &profile_server_config(r->server)->rl;
    const apr_array_header_t *pols = c->policies;
    const profile_principal_t *p = principal_of(r, c);
    profile_rl_decision_t stack[STACK_DECISIONS];
    profile_rl_decision_t *dec = pols->nelts <= STACK_DECISIONS
        ? stack : apr_palloc(r->pool, sizeof(*dec) * (apr_size_t)pols->nelts);
    int redis = profile_rl_backend(sc) == PROFILE_RL_REDIS;
    int n = 0, refused = -1, i;
    apr_int64_t retry_us = 0;
    apr_time_t now = apr_time_now();

    if (p && exempt(c, p))
        return DECLINED;
    for (i = 0; i < pols->nelts; i++) {
        const profile_rl_policy_t *pol = &APR_ARRAY_IDX(pols, i, profile_rl_policy_t);
        int requests = pol->requests, window_s = pol->window_s, burst = pol->burst, rc;
        const char *value;
        profile_gcra_t g;
        profile_gcra_result_t res;

        if (p && (pol->by == PROFILE_RL_BY_KEY || pol->by == PROFILE_RL_BY_USER)
            && p->rate_limit_requests >= 1 && p->rate_limit_window_s >= 1) {
            requests = burst = p->rate_limit_requests;
            window_s = p->rate_limit_window_s;
        }
        profile_gcra_init(&g, requests, window_s, burst);
        value = dimension(r, pol, p);
        rc = redis ? redis_decide(r, sc, pol->name, value, &g, &res)
                   : shm_decide(r, pol->name, value, &g, now, &res);
        if (rc == HTTP_SERVICE_UNAVAILABLE)
            return profile_send_unavailable(api_request(r), 1, "rate limiting is "
                                            "unavailable: Redis does not answer") == OK
                ? DONE : HTTP_SERVICE_UNAVAILABLE;
        if (rc != OK)
            continue;
        /* Only refusals record who: name them as the counters do, "ip:<addr>" when anonymous. */
        profile_rl_stats_count(pol->name, !res.allowed,
                               p ? p->name : res.allowed ? r->useragent_ip
                                           : apr_pstrcat(r->pool, "ip:", r->useragent_ip, NULL),
                               now);
        dec[n].policy = pol->name;
        dec[n].limit = requests;
        dec[n].window_s = window_s;
        dec[n].remaining = res.allowed ? res.remaining : 0;
        dec[n].reset_us = res.reset_after_us;
        if (!res.allowed && (refused < 0 || res.retry_after_us > retry_us)) {
            refused = n;
            retry_us = res.retry_after_us;
        }
        n++;
    }
    if (n && profile_rl_headers_on(c))
        set_headers(r, dec, n);
    return refused >= 0 ? refuse(r, &dec[refused], retry_us) : DECLINED;
}

int profile_ratelimit_fixups(request_rec *r)
{
    const profile_dir_config_t *d;
    /* Subrequests and internal redirects belong to a request that was decided already. */
    if (r->main || r->prev)
        return DECLINED;
    d = profile_dir_config(r);
    if (!d || !d->rl.policies || !d->rl.policies->nelts)
        return DECLINED;
    return enforce(r, &d->rl);
}
