/* One line per event: "2026-11-24T10:00:00.123Z [info] message". Thread-safe. */
#ifndef LIVE_LOG_H
#define LIVE_LOG_H

#include "core/config.h"

/* path NULL or "": stderr. Re-opening (SIGHUP) keeps the old stream when the open fails. */
int  live_log_open(const char *path, live_log_level_t level);
void live_log_set_level(live_log_level_t level);
void live_log_close(void);
void live_log(live_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LIVE_DEBUG(...) live_log(LIVE_LOG_DEBUG, __VA_ARGS__)
#define LIVE_INFO(...)  live_log(LIVE_LOG_INFO, __VA_ARGS__)
#define LIVE_WARN(...)  live_log(LIVE_LOG_WARN, __VA_ARGS__)
#define LIVE_ERROR(...) live_log(LIVE_LOG_ERROR, __VA_ARGS__)

#endif
