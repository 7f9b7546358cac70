/* Wall-clock time in epoch microseconds and its ISO-8601 rendering; monotonic deadlines. */
#ifndef LIVE_CLOCK_H
#define LIVE_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

int64_t live_now_us(void);
/* Monotonic time in µs (for deadlines and pacing). */
int64_t live_mono_us(void);
/* Initialises cond on CLOCK_MONOTONIC (for live_cond_wait_until). 0 or an errno. */
int live_cond_init_monotonic(pthread_cond_t *cond);
/* With lock held: waits on cond (made with CLOCK_MONOTONIC) until the monotonic time due or
 * until *stop is set, waking at least every slice_us to look at *stop. Returns *stop. */
int live_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, const volatile int *stop,
                         int64_t due, int64_t slice_us);
/* "2026-11-24T10:00:00.123Z" (milliseconds, UTC) into buf (>= 25 bytes). */
void live_iso8601_ms(int64_t epoch_us, char *buf, size_t len);

#endif
