/* The draft-ietf-httpapi-ratelimit-headers-10 fields (and the older X-RateLimit-* ones) for the
 * decisions taken on one request. Pure code (APR only), unit tested. */
#ifndef PROFILE_RL_HEADERS_H
#define PROFILE_RL_HEADERS_H

#include <apr_pools.h>

typedef struct {
    const char *policy;        /* name */
    int limit;                 /* requests per window (q) */
    int window_s;              /* w */
    int remaining;             /* 0 when refused */
    apr_int64_t reset_us;      /* until the bucket is full again */
} profile_rl_decision_t;

typedef struct {
    const char *policy;        /* RateLimit-Policy: "<name>";q=<limit>;w=<window>, … */
    const char *ratelimit;     /* RateLimit: "<name>";r=<remaining>;t=<reset s> */
    const char *limit;         /* X-RateLimit-Limit */
    const char *remaining;     /* X-RateLimit-Remaining */
    const char *reset;         /* X-RateLimit-Reset */
} profile_rl_headers_t;

/* Whole seconds, rounded up; 0 for none or negative. */
apr_int64_t profile_rl_ceil_s(apr_int64_t us);

/* Index of the most restrictive of n >= 1 decisions: fewest remaining; ties: longest reset,
 * then the first. */
int profile_rl_most_restrictive(const profile_rl_decision_t *d, int n);

/* The values for n >= 1 decisions: RateLimit-Policy lists every one, in order; the others
 * describe the most restrictive. */
void profile_rl_format_headers(apr_pool_t *p, const profile_rl_decision_t *d, int n,
                               profile_rl_headers_t *out);

#endif
