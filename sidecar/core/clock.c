/* Wall-clock time of the sidecar: epoch microseconds and the ISO-8601 (UTC, milliseconds)
 * text every event and log line carries; monotonic time and stoppable waits. */
#include <stdio.h>
#include <time.h>

#include "core/clock.h"

int64_t live_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t live_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int live_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);

    if (rc == 0)
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

int live_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, const volatile int *stop,
                         int64_t due, int64_t slice_us)
{
    while (!*stop) {
        int64_t now = live_mono_us(), until;
        struct timespec ts;
        if (now >= due)
            break;
        until = now + (due - now < slice_us ? due - now : slice_us);
        ts.tv_sec = until / 1000000;
        ts.tv_nsec = (long)(until % 1000000) * 1000;
        pthread_cond_timedwait(cond, lock, &ts);
    }
    return *stop;
}

void live_iso8601_ms(int64_t epoch_us, char *buf, size_t len)
{
    /* Floor division, so that times before 1970 still render correctly. */
    int64_t ms = epoch_us / 1000;
    if (epoch_us % 1000 < 0)
        ms--;
    int64_t s = ms / 1000;
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        s--;
    }
    struct tm tm;
    time_t t = (time_t)s;
    if (len == 0)
        return;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
