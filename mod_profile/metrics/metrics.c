/* The metrics block: a header, then one bucket per minute of the last hour, used as a ring
 * (minute m lives at index m % PROFILE_METRICS_MINUTES). Every field written after
 * formatting is accessed with __atomic builtins, so any thread of any process that maps
 * the block may record or read at any time without a lock. */
#include <sched.h>
#include <string.h>
#include "metrics/metrics.h"

/* "PRMETRIC" with the layout version in the low byte: bump it when the structs change. */
#define PROFILE_METRICS_MAGIC 0x50524d4554524901ULL

/* Latency histogram: 4 sub-buckets per power of two of microseconds, 2^0 .. 2^30 µs
 * (about 18 minutes), plus one bucket for everything slower. */
#define HIST_SUB_BITS 2
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_OCTAVES 30
#define HIST_BUCKETS (HIST_OCTAVES * HIST_SUB + 1)

/* A stamp with this bit set marks a bucket being reset for the minute in the low bits. */
#define STAMP_RESETTING (1ULL << 63)
#define RESET_SPINS 64

#define MINUTE_USEC ((apr_uint64_t)apr_time_from_sec(60))

typedef struct {
    apr_uint64_t stamp;        /* minute number since the epoch, or STAMP_RESETTING | minute */
    apr_uint64_t counts[PROFILE_METRICS_MAX_ROUTES][PROFILE_METRICS_STATUS_CLASSES];
    apr_uint64_t hist[HIST_BUCKETS];
} profile_metrics_minute_t;

struct profile_metrics_t {
    apr_uint64_t magic;
    apr_uint64_t layout_key;
    apr_int64_t started;
    apr_int32_t routes;
    profile_metrics_minute_t minutes[PROFILE_METRICS_MINUTES];
};

apr_size_t profile_metrics_size(void)
{
    return sizeof(profile_metrics_t);
}

profile_metrics_t *profile_metrics_init(void *mem, apr_uint64_t layout_key, int routes,
                                        apr_time_t now)
{
    profile_metrics_t *m = mem;
    apr_time_t started = now;

    if (routes < 1)
        routes = 1;
    if (routes > PROFILE_METRICS_MAX_ROUTES)
        routes = PROFILE_METRICS_MAX_ROUTES;
    if (m->magic == PROFILE_METRICS_MAGIC) {
        if (m->layout_key == layout_key && m->routes == routes)
            return m;
        /* Same server lifetime, different routes (a module upgrade): the server's start
         * time still holds, the counts no longer do. */
        started = m->started;
    }
    memset(m, 0, sizeof(*m));
    m->layout_key = layout_key;
    m->routes = routes;
    m->started = started;
    m->magic = PROFILE_METRICS_MAGIC;
    return m;
}

apr_time_t profile_metrics_started(const profile_metrics_t *m)
{
    return m->started;
}

static apr_uint64_t minute_of(apr_time_t t)
{
    return t < 0 ? 0 : (apr_uint64_t)t / MINUTE_USEC;
}

/* Octave e holds [2^e, 2^(e+1)); its sub-bucket comes from the bits below the leading one. */
static int hist_index(apr_uint64_t usec)
{
    int e, sub;

    if (usec <= 1)
        return 0;
    e = 63 - __builtin_clzll(usec);
    if (e >= HIST_OCTAVES)
        return HIST_BUCKETS - 1;
    if (e >= HIST_SUB_BITS)
        sub = (int)(usec >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
    else
        sub = (int)(usec << (HIST_SUB_BITS - e)) & (HIST_SUB - 1);
    return e * HIST_SUB + sub;
}

static double hist_lower(int i)
{
    if (i == HIST_BUCKETS - 1)
        return (double)(1ULL << HIST_OCTAVES);
    return (double)(1ULL << (i / HIST_SUB)) * (1.0 + (double)(i % HIST_SUB) / HIST_SUB);
}

static double hist_upper(int i)
{
    if (i == HIST_BUCKETS - 1)
        return hist_lower(i);
    return (double)(1ULL << (i / HIST_SUB)) * (1.0 + (double)(i % HIST_SUB + 1) / HIST_SUB);
}

/* The bucket of minute `minute`, reset first when it still holds an older minute; NULL when
 * the sample must be dropped.
 * The first writer of a new minute claims the bucket by CAS to STAMP_RESETTING|minute,
 * zeroes it and publishes the minute with a release store. Writers that find the bucket
 * being reset yield a bounded number of times and then drop their sample instead of
 * waiting: a process may die mid-reset, and losing a sample is acceptable where blocking
 * a request is not. Such an abandoned claim is taken over by the first writer of a later
 * minute for the same slot, so the bucket is never stuck. */
static profile_metrics_minute_t *minute_acquire(profile_metrics_t *m, apr_uint64_t minute)
{
    profile_metrics_minute_t *b = &m->minutes[minute % PROFILE_METRICS_MINUTES];
    int spin;

    for (spin = 0; spin < RESET_SPINS; spin++) {
        apr_uint64_t stamp = __atomic_load_n(&b->stamp, __ATOMIC_ACQUIRE);
        apr_uint64_t claimed = STAMP_RESETTING | minute;
        apr_uint64_t *c = &b->counts[0][0];
        apr_size_t i, n;

        if (stamp == minute)
            return b;
        if ((stamp & ~STAMP_RESETTING) > minute)
            return NULL;       /* a later minute owns the slot: this sample is too old */
        if (stamp == claimed) {
            sched_yield();
            continue;
        }
        if (!__atomic_compare_exchange_n(&b->stamp, &stamp, claimed, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        n = sizeof(b->counts) / sizeof(apr_uint64_t);
        for (i = 0; i < n; i++)
            __atomic_store_n(&c[i], 0, __ATOMIC_RELAXED);
        for (i = 0; i < HIST_BUCKETS; i++)
            __atomic_store_n(&b->hist[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->stamp, minute, __ATOMIC_RELEASE);
        return b;
    }
    return NULL;
}

static int status_class(int status)
{
    if (status < 100 || status > 599)
        return PROFILE_METRICS_STATUS_CLASSES - 1;
    return status / 100 - 1;
}

void profile_metrics_record(profile_metrics_t *m, int route, int status, apr_time_t latency,
                            apr_time_t now)
{
    profile_metrics_minute_t *b = minute_acquire(m, minute_of(now));

    if (!b)
        return;
    if (route < 0 || route >= m->routes)
        route = m->routes - 1;
    __atomic_fetch_add(&b->counts[route][status_class(status)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&b->hist[hist_index(latency < 0 ? 0 : (apr_uint64_t)latency)], 1,
                       __ATOMIC_RELAXED);
}

/* The latency (ms) below which a fraction q of the samples lie, interpolated linearly
 * inside the histogram bucket that holds that rank; so the error is at most one bucket's
 * width (a quarter of its lower bound). Samples beyond the last octave report its start. */
static double percentile_ms(const apr_uint64_t *hist, apr_uint64_t total, double q)
{
    double rank = q * (double)total;
    apr_uint64_t below = 0;
    int i;

    if (total == 0)
        return 0.0;
    for (i = 0; i < HIST_BUCKETS; i++) {
        if (hist[i] && (double)(below + hist[i]) >= rank) {
            double f = (rank - (double)below) / (double)hist[i];
            return (hist_lower(i) + f * (hist_upper(i) - hist_lower(i))) / 1000.0;
        }
        below += hist[i];
    }
    return hist_lower(HIST_BUCKETS - 1) / 1000.0;
}

/* Adds bucket b to the sums when it holds a minute in [first, last]. A bucket reset while
 * it is read is left out (its stamp changed), so a summary never mixes two minutes. */
static void add_minute(const profile_metrics_minute_t *b, int routes, apr_uint64_t first,
                       apr_uint64_t last, profile_metrics_summary_t *out, apr_uint64_t *hist)
{
    apr_uint64_t counts[PROFILE_METRICS_MAX_ROUTES][PROFILE_METRICS_STATUS_CLASSES];
    apr_uint64_t h[HIST_BUCKETS];
    apr_uint64_t stamp = __atomic_load_n(&b->stamp, __ATOMIC_ACQUIRE);
    int r, c, i;

    if (stamp < first || stamp > last)
        return;                /* also skips STAMP_RESETTING, which is above any minute */
    for (r = 0; r < routes; r++)
        for (c = 0; c < PROFILE_METRICS_STATUS_CLASSES; c++)
            counts[r][c] = __atomic_load_n(&b->counts[r][c], __ATOMIC_RELAXED);
    for (i = 0; i < HIST_BUCKETS; i++)
        h[i] = __atomic_load_n(&b->hist[i], __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&b->stamp, __ATOMIC_RELAXED) != stamp)
        return;
    for (r = 0; r < routes; r++)
        for (c = 0; c < PROFILE_METRICS_STATUS_CLASSES; c++) {
            out->by_route[r][c] += counts[r][c];
            out->by_class[c] += counts[r][c];
            out->total += counts[r][c];
        }
    for (i = 0; i < HIST_BUCKETS; i++)
        hist[i] += h[i];
}

void profile_metrics_summarize(const profile_metrics_t *m, int minutes, apr_time_t now,
                               profile_metrics_summary_t *out)
{
    apr_uint64_t hist[HIST_BUCKETS] = { 0 };
    apr_uint64_t last = minute_of(now), first, hist_total = 0;
    int i;

    if (minutes < 1)
        minutes = 1;
    if (minutes > PROFILE_METRICS_MINUTES)
        minutes = PROFILE_METRICS_MINUTES;
    first = last >= (apr_uint64_t)minutes - 1 ? last - (apr_uint64_t)minutes + 1 : 0;
    memset(out, 0, sizeof(*out));
    for (i = 0; i < PROFILE_METRICS_MINUTES; i++)
        add_minute(&m->minutes[i], m->routes, first, last, out, hist);
    for (i = 0; i < HIST_BUCKETS; i++)
        hist_total += hist[i];
    out->p50_ms = percentile_ms(hist, hist_total, 0.50);
    out->p95_ms = percentile_ms(hist, hist_total, 0.95);
    out->p99_ms = percentile_ms(hist, hist_total, 0.99);
    out->error_rate = out->total ? (double)out->by_class[PROFILE_METRICS_STATUS_CLASSES - 1] /
                                       (double)out->total
                                 : 0.0;
}
