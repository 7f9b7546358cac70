/* RateLimit-Policy, RateLimit and X-RateLimit-* values; see rl_headers.h. */
#include <apr_strings.h>
#include <string.h>

#include "ratelimit/rl_headers.h"

/* One "<name>";q=<n>;w=<n> item: name (at most 32 characters, no quote) plus two integers. */
#define POLICY_ITEM_MAX 96

apr_int64_t profile_rl_ceil_s(apr_int64_t us)
{
    return us > 0 ? (us + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC : 0;
}

int profile_rl_most_restrictive(const profile_rl_decision_t *d, int n)
{
    int best = 0, i;
    for (i = 1; i < n; i++)
        if (d[i].remaining < d[best].remaining
            || (d[i].remaining == d[best].remaining && d[i].reset_us > d[best].reset_us))
            best = i;
    return best;
}

void profile_rl_format_headers(apr_pool_t *p, const profile_rl_decision_t *d, int n,
                               profile_rl_headers_t *out)
{
    apr_size_t size = (apr_size_t)n * (POLICY_ITEM_MAX + 2), used = 0;
    char *policy = apr_palloc(p, size);
    const profile_rl_decision_t *m = &d[profile_rl_most_restrictive(d, n)];
    apr_int64_t reset_s = profile_rl_ceil_s(m->reset_us);
    int i;

    policy[0] = '\0';
    for (i = 0; i < n && used < size; i++)
        used += apr_snprintf(policy + used, size - used, "%s\"%.32s\";q=%d;w=%d", i ? ", " : "",
                             d[i].policy, d[i].limit, d[i].window_s);
    out->policy = policy;
    out->ratelimit = apr_psprintf(p, "\"%s\";r=%d;t=%" APR_INT64_T_FMT, m->policy, m->remaining,
                                  reset_s);
    out->limit = apr_itoa(p, m->limit);
    out->remaining = apr_itoa(p, m->remaining);
    out->reset = apr_psprintf(p, "%" APR_INT64_T_FMT, reset_s);
}
