/* Request metrics kept in one shared-memory block that every child process writes to:
 * per-minute buckets over the last PROFILE_METRICS_MINUTES minutes, each with request
 * counts by route and status class and a latency histogram. The layout code is pure
 * (it works on any memory block) and unit tested; metrics_shm.c places it in httpd's
 * shared memory. */
#ifndef PROFILE_METRICS_H
#define PROFILE_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

#define PROFILE_METRICS_MINUTES 60
#define PROFILE_METRICS_MAX_ROUTES 64      /* routes + the "unmatched" slot */
#define PROFILE_METRICS_STATUS_CLASSES 5   /* 1xx..5xx */

typedef struct profile_metrics_t profile_metrics_t;

/* Bytes needed for a metrics block. */
apr_size_t profile_metrics_size(void);

/* Formats mem as a new metrics block for routes route slots, unless it already holds one
 * for the same layout_key (a graceful restart keeps the counts). */
profile_metrics_t *profile_metrics_init(void *mem, apr_uint64_t layout_key, int routes,
                                        apr_time_t now);

/* Records one request. Lock-free: safe from any thread of any process. */
void profile_metrics_record(profile_metrics_t *m, int route, int status, apr_time_t latency,
                            apr_time_t now);

typedef struct {
    apr_uint64_t total;
    apr_uint64_t by_class[PROFILE_METRICS_STATUS_CLASSES];
    apr_uint64_t by_route[PROFILE_METRICS_MAX_ROUTES][PROFILE_METRICS_STATUS_CLASSES];
    double p50_ms, p95_ms, p99_ms;
    double error_rate;         /* 5xx / total, 0 when there were no requests */
} profile_metrics_summary_t;

/* Sums the last `minutes` minutes (1..PROFILE_METRICS_MINUTES), current minute included. */
void profile_metrics_summarize(const profile_metrics_t *m, int minutes, apr_time_t now,
                               profile_metrics_summary_t *out);

/* When the block was first formatted: the server's start, kept across graceful restarts. */
apr_time_t profile_metrics_started(const profile_metrics_t *m);

#endif
