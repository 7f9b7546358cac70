/* The sidecar's log: one line per event, "2026-11-24T10:00:00.123Z [info] message", to stderr
 * or to a file opened with O_APPEND (so logrotate's copy-and-truncate and several writers stay
 * sane). Thread-safe: a line is formatted on the caller's stack and written with one write(2)
 * under a mutex. Re-opening (SIGHUP) keeps the old stream when the new file cannot be opened. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define LIVE_LOG_LINE_MAX 2048          /* bytes per line, newline included */
#define LIVE_LOG_TRUNCATED " [...]"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;      /* guarded by log_lock */
static int log_owned;                   /* log_fd is ours to close */
static atomic_int log_level = LIVE_LOG_INFO;

static const char *level_name(live_log_level_t level)
{
    switch (level) {
    case LIVE_LOG_DEBUG: return "debug";
    case LIVE_LOG_INFO:  return "info";
    case LIVE_LOG_WARN:  return "warn";
    case LIVE_LOG_ERROR: return "error";
    }
    return "info";
}

int live_log_open(const char *path, live_log_level_t level)
{
    int fd = STDERR_FILENO, owned = 0;
    if (path != NULL && path[0] != '\0') {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            return -1;           /* errno tells why; the old stream stays */
        owned = 1;
    }
    pthread_mutex_lock(&log_lock);
    int old = log_fd, old_owned = log_owned;
    log_fd = fd;
    log_owned = owned;
    pthread_mutex_unlock(&log_lock);
    if (old_owned && old != fd)
        close(old);
    atomic_store(&log_level, (int)level);
    return 0;
}

void live_log_set_level(live_log_level_t level)
{
    atomic_store(&log_level, (int)level);
}

void live_log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_owned)
        close(log_fd);
    log_fd = STDERR_FILENO;
    log_owned = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Cuts s (length *n) back to the start of a UTF-8 sequence so no character is split. */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) {
        /* s[i-1] is a lead byte: keep it only when its sequence is complete. */
        unsigned char lead = (unsigned char)s[i - 1];
        size_t need = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
                    : (lead & 0xF8) == 0xF0 ? 4 : 1;
        if (n - (i - 1) < need)
            return i - 1;
    }
    return n;
}

void live_log(live_log_level_t level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    int saved_errno = errno;     /* callers may log and then look at errno */
    char line[LIVE_LOG_LINE_MAX];
    char ts[32];
    live_iso8601_ms(live_now_us(), ts, sizeof ts);
    int head = snprintf(line, sizeof line, "%s [%s] ", ts, level_name(level));
    if (head < 0 || (size_t)head >= sizeof line) {
        errno = saved_errno;
        return;
    }
    size_t room = sizeof line - (size_t)head - 1;   /* keep one byte for the newline */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, room + 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t msg = (size_t)n;
    if (msg > room) {
        /* Too long: cut at a character boundary and say so. */
        size_t keep = utf8_cut(line + head, room - (sizeof LIVE_LOG_TRUNCATED - 1));
        memcpy(line + head + keep, LIVE_LOG_TRUNCATED, sizeof LIVE_LOG_TRUNCATED - 1);
        msg = keep + sizeof LIVE_LOG_TRUNCATED - 1;
    }
    /* One event, one line: control characters (newlines first of all) become spaces. */
    for (size_t i = 0; i < msg; i++) {
        unsigned char c = (unsigned char)line[head + i];
        if (c < 0x20 || c == 0x7F)
            line[head + i] = ' ';
    }
    size_t len = (size_t)head + msg;
    line[len++] = '\n';

    pthread_mutex_lock(&log_lock);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(log_fd, line + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;               /* nowhere to report it: drop the line */
        }
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
    errno = saved_errno;
}
