/* Upstream hygiene shared by every child process: a cap on concurrent fetches and a circuit
 * breaker. Pure layout code over a memory block (unit tested); scrape.c keeps the block in
 * shared memory made once per server lifetime.
 *
 * Breaker: `threshold` consecutive failures open it for `cooldown`; an upstream 429 opens it
 * at once for its Retry-After (or the cooldown). After the open period one trial fetch is let
 * through (half-open): success closes the breaker, failure opens it again.
 * Gate: at most `max_concurrent` fetches hold a slot; a slot held longer than `stale_after`
 * (its holder died) is taken back. */
#ifndef PROFILE_BREAKER_H
#define PROFILE_BREAKER_H

#include <apr.h>
#include <apr_time.h>

#define PROFILE_BREAKER_MAX_CONCURRENT 256

typedef struct profile_breaker_t profile_breaker_t;

typedef enum {
    PROFILE_BREAKER_GO = 0,    /* a gate slot is held: call profile_breaker_done */
    PROFILE_BREAKER_OPEN,      /* circuit open: do not fetch */
    PROFILE_BREAKER_BUSY       /* every gate slot is held */
} profile_breaker_verdict_t;

typedef enum {
    PROFILE_FETCH_SUCCEEDED,   /* a profile or a not-found page */
    PROFILE_FETCH_FAILED,
    PROFILE_FETCH_THROTTLED    /* HTTP 429 */
} profile_fetch_outcome_t;

typedef struct {
    int max_concurrent;        /* 1..PROFILE_BREAKER_MAX_CONCURRENT */
    int threshold;             /* consecutive failures that open the circuit */
    apr_interval_time_t cooldown;
    apr_interval_time_t stale_after;
} profile_breaker_limits_t;

apr_size_t profile_breaker_size(void);
/* Formats mem unless it already holds a breaker. */
profile_breaker_t *profile_breaker_init(void *mem);

/* *slot identifies the gate slot taken on GO. */
profile_breaker_verdict_t profile_breaker_enter(profile_breaker_t *b,
                                                const profile_breaker_limits_t *l,
                                                apr_time_t now, int *slot);
/* What a result did to the circuit. Each change is reported to exactly one caller (the one
 * whose compare-and-swap made it), so it is logged once for the whole httpd. */
typedef enum {
    PROFILE_BREAKER_UNCHANGED = 0,
    PROFILE_BREAKER_OPENED,    /* closed → open */
    PROFILE_BREAKER_REOPENED,  /* the half-open trial failed */
    PROFILE_BREAKER_CLOSED     /* the half-open trial succeeded */
} profile_breaker_change_t;

/* retry_after: the upstream's Retry-After for THROTTLED (0 when absent). */
profile_breaker_change_t profile_breaker_done(profile_breaker_t *b,
                                              const profile_breaker_limits_t *l, int slot,
                                              apr_time_t now, profile_fetch_outcome_t outcome,
                                              apr_interval_time_t retry_after);

typedef struct {
    const char *state;         /* "closed", "open", "half_open" */
    int consecutive_failures;
    apr_time_t open_until;     /* 0 when closed */
    int in_flight;
} profile_breaker_state_t;
void profile_breaker_state(profile_breaker_t *b, apr_time_t now, profile_breaker_state_t *out);

#endif
