/* Wall-clock time in epoch microseconds and its ISO-8601 rendering. */
#ifndef LIVE_CLOCK_H
#define LIVE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t live_now_us(void);
/* "2026-11-24T10:00:00.123Z" (milliseconds, UTC) into buf (>= 25 bytes). */
void live_iso8601_ms(int64_t epoch_us, char *buf, size_t len);

#endif
