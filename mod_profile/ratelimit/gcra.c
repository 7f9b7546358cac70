/* GCRA in integer microseconds. The emission interval is rounded up, so a window of
 * window_s never admits more than `requests` at steady state (the long-run rate falls short
 * by under 1 µs per request), while the capacity is exactly burst × T, so an empty bucket
 * admits exactly `burst` requests at once. */
#include "ratelimit/gcra.h"

#define USEC_PER_S 1000000

static apr_int64_t sat_add(apr_int64_t a, apr_int64_t b)
{
    apr_int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? APR_INT64_MAX : APR_INT64_MIN;
    return r;
}

static apr_int64_t sat_sub(apr_int64_t a, apr_int64_t b)
{
    apr_int64_t r;

    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? APR_INT64_MAX : APR_INT64_MIN;
    return r;
}

void profile_gcra_init(profile_gcra_t *g, int requests, int window_s, int burst)
{
    apr_int64_t window_us;

    if (requests < 1)
        requests = 1;
    if (window_s < 1)
        window_s = 1;
    if (burst < 1)
        burst = requests;
    window_us = (apr_int64_t)window_s * USEC_PER_S;
    g->emission_us = (window_us + requests - 1) / requests;
    g->burst = burst;
    g->capacity_us = burst > APR_INT64_MAX / g->emission_us
                         ? APR_INT64_MAX / g->emission_us * g->emission_us
                         : burst * g->emission_us;
}

void profile_gcra_decide(const profile_gcra_t *g, apr_int64_t tat, apr_int64_t now,
                         profile_gcra_result_t *out)
{
    apr_int64_t tat0 = tat > now ? tat : now;
    apr_int64_t new_tat = sat_add(tat0, g->emission_us);
    apr_int64_t ahead = sat_sub(new_tat, now);    /* >= T: tat0 >= now */

    if (ahead <= g->capacity_us) {
        out->allowed = 1;
        out->new_tat = new_tat;
        out->remaining = (int)((g->capacity_us - ahead) / g->emission_us);
        out->retry_after_us = 0;
        out->reset_after_us = ahead;
    } else {
        out->allowed = 0;
        out->new_tat = tat;
        out->remaining = 0;
        out->retry_after_us = ahead - g->capacity_us;
        out->reset_after_us = sat_sub(tat0, now);
    }
}
