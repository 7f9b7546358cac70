/* GCRA (generic cell rate algorithm): a smooth limit of `requests` per `window_s` with an
 * explicit burst, deciding on one stored value per key, the theoretical arrival time (TAT).
 * Pure code (no httpd), unit tested.
 *
 *   T = window / requests (emission interval), burst capacity = burst × T
 *   tat0 = max(tat, now); new_tat = tat0 + T
 *   allowed  ⇔ new_tat − now ≤ burst × T      (then the stored TAT becomes new_tat)
 *   remaining = ⌊(burst × T − (new_tat − now)) / T⌋ when allowed, 0 otherwise
 *   retry_after = new_tat − now − burst × T when refused
 *   reset_after = time until the bucket is full again (new_tat − now, or tat0 − now if refused) */
#ifndef PROFILE_GCRA_H
#define PROFILE_GCRA_H

#include <apr.h>

typedef struct {
    apr_int64_t emission_us;   /* T */
    apr_int64_t capacity_us;   /* burst × T */
    int burst;
} profile_gcra_t;

typedef struct {
    int allowed;
    apr_int64_t new_tat;       /* store this (only when allowed) */
    int remaining;
    apr_int64_t retry_after_us;
    apr_int64_t reset_after_us;
} profile_gcra_result_t;

/* burst < 1 means burst = requests. */
void profile_gcra_init(profile_gcra_t *g, int requests, int window_s, int burst);
void profile_gcra_decide(const profile_gcra_t *g, apr_int64_t tat, apr_int64_t now,
                         profile_gcra_result_t *out);

#endif
