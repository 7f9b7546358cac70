/* The "replay" capture source: plays <replay_dir>/<recording>.ndjson (one event per line in
 * the streamed schema without session_id and offset) paced by the differences of the lines'
 * "time" divided by the speed, optionally looping. Emitted events carry time = now and the
 * recording's id (suffixed "-<loop>" after the first loop, so ids stay unique). The position
 * is the number of lines consumed (across loops), so a new owner resumes where the last
 * committed batch ended. Bad lines are counted, logged (rate-limited) and skipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "source/source.h"

#define REPLAY_LINE_MAX   (16 * 1024)          /* longer lines are bad lines */
#define REPLAY_FILE_MAX   (64LL * 1024 * 1024) /* larger recordings are refused */
#define REPLAY_WAIT_MAX   5000000              /* µs: cap of one pause between events */
#define REPLAY_SLICE      100000               /* µs: longest sleep without checking stop */
#define REPLAY_BEHIND_MAX 1000000              /* µs: further behind → restart the schedule */
#define REPLAY_BAD_LOGGED 10                   /* bad lines logged one by one, then summed */
#define REPLAY_BAD_EVERY  (10 * 1000000)       /* µs between summaries */

struct live_source {
    char session_id[65];
    char recording[65];
    char path[LIVE_PATH_MAX + 80];
    double speed;
    int loop;
    int64_t position;                /* lines consumed (where the previous owner stopped) */
    live_source_sink_t sink;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;             /* CLOCK_MONOTONIC; signalled by stop */
    int stop;                        /* guarded by lock */
    uint64_t bad;                    /* bad lines so far (thread only) */
    uint64_t bad_reported;
    int64_t bad_logged_at;
    char line[REPLAY_LINE_MAX + 1];
};

static int stopped(live_source_t *src)
{
    int s;
    pthread_mutex_lock(&src->lock);
    s = src->stop;
    pthread_mutex_unlock(&src->lock);
    return s;
}

/* Sleeps until the monotonic time due (woken at once by stop). 1 when stopped. */
static int wait_until(live_source_t *src, int64_t due)
{
    int s;

    pthread_mutex_lock(&src->lock);
    s = live_cond_wait_until(&src->cond, &src->lock, &src->stop, due, REPLAY_SLICE);
    pthread_mutex_unlock(&src->lock);
    return s;
}

/* 1: a line in src->line (*len bytes, *too_long when it was cut), 0: end of file, -1: error.
 * A last line without a newline counts; an empty file has no line. */
static int read_line(live_source_t *src, FILE *f, size_t *len, int *too_long)
{
    size_t n = 0;
    int c;

    *too_long = 0;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n')
            break;
        if (n < REPLAY_LINE_MAX)
            src->line[n++] = (char)c;
        else
            *too_long = 1;
    }
    if (c == EOF) {
        if (ferror(f))
            return -1;
        if (n == 0 && !*too_long)
            return 0;
    }
    if (n > 0 && src->line[n - 1] == '\r')
        n--;
    src->line[n] = '\0';
    *len = n;
    return 1;
}

static void bad_line(live_source_t *src, int64_t line_no, const char *why)
{
    int64_t now = live_mono_us();

    src->bad++;
    if (src->bad <= REPLAY_BAD_LOGGED) {
        LIVE_WARN("replay %s: %s.ndjson line %lld skipped: %s", src->session_id,
                  src->recording, (long long)line_no, why);
        src->bad_reported = src->bad;
        src->bad_logged_at = now;
    } else if (now - src->bad_logged_at >= REPLAY_BAD_EVERY) {
        LIVE_WARN("replay %s: %s.ndjson: %llu more bad lines skipped (last: line %lld: %s)",
                  src->session_id, src->recording,
                  (unsigned long long)(src->bad - src->bad_reported), (long long)line_no, why);
        src->bad_reported = src->bad;
        src->bad_logged_at = now;
    }
}

static void report(live_source_t *src, live_source_state_t st, const char *reason,
                   const char *detail)
{
    src->sink.state(src->sink.ctx, st, reason, detail);
}

/* Opens the recording; NULL after reporting FAILED. */
static FILE *open_recording(live_source_t *src)
{
    char detail[256];
    struct stat st = { 0 };
    FILE *f = fopen(src->path, "re");

    if (!f) {
        int e = errno;
        snprintf(detail, sizeof(detail), "recording \"%s\" %s", src->recording,
                 e == ENOENT ? "does not exist" : "cannot be opened");
        LIVE_WARN("replay %s: %s: %s", src->session_id, src->path, strerror(e));
        report(src, LIVE_SOURCE_FAILED, e == ENOENT ? "recording_not_found"
                                                    : "recording_unreadable", detail);
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > REPLAY_FILE_MAX) {
        int large = S_ISREG(st.st_mode) && st.st_size > REPLAY_FILE_MAX;
        snprintf(detail, sizeof(detail), "recording \"%s\" is %s", src->recording,
                 large ? "larger than 64 MiB" : "not a regular file");
        report(src, LIVE_SOURCE_FAILED, large ? "recording_too_large" : "recording_unreadable",
               detail);
        fclose(f);
        return NULL;
    }
    return f;
}

static int rewind_recording(FILE *f)
{
    clearerr(f);
    return fseeko(f, 0, SEEK_SET);
}

/* The playing state of one run of the thread. */
typedef struct {
    FILE *f;
    int64_t position;        /* lines consumed since the very start, loops included */
    int64_t line_in_pass;    /* lines of this pass so far */
    int64_t lines_per_pass;  /* known after the first complete pass, else 0 */
    int64_t loop_n;          /* 0 for the first pass */
    int skipped_in_pass;     /* lines of this pass were skipped (played before) */
    int64_t emitted_in_pass;
} replay_run_t;

/* End of file. 0: carry on with the next loop; -1: the thread ends (state reported). */
static int at_eof(live_source_t *src, replay_run_t *run)
{
    if (run->line_in_pass == 0) {
        report(src, LIVE_SOURCE_FAILED, "recording_empty", "the recording is empty");
        return -1;
    }
    run->lines_per_pass = run->line_in_pass;
    if (!src->loop) {
        LIVE_INFO("replay %s: recording %s finished after %lld lines", src->session_id,
                  src->recording, (long long)run->position);
        report(src, LIVE_SOURCE_ENDED, "recording_finished", NULL);
        return -1;
    }
    if (!run->skipped_in_pass && run->emitted_in_pass == 0) {   /* would spin for ever */
        report(src, LIVE_SOURCE_FAILED, "recording_empty", "the recording has no playable events");
        return -1;
    }
    if (rewind_recording(run->f) != 0) {
        report(src, LIVE_SOURCE_FAILED, "recording_unreadable", "the recording cannot be re-read");
        return -1;
    }
    run->loop_n++;
    run->line_in_pass = 0;
    run->emitted_in_pass = 0;
    run->skipped_in_pass = 0;
    return 0;
}

/* Skips the lines a previous owner played. 0, or -1 when the thread ends. */
static int skip_played(live_source_t *src, replay_run_t *run)
{
    int64_t remaining = src->position;
    size_t len;
    int too_long, r;

    while (remaining > 0) {
        if (stopped(src))
            return -1;
        r = read_line(src, run->f, &len, &too_long);
        if (r < 0) {
            report(src, LIVE_SOURCE_FAILED, "recording_unreadable", "reading the recording failed");
            return -1;
        }
        if (r == 0) {
            if (at_eof(src, run) != 0)
                return -1;
            if (run->lines_per_pass > 0) {      /* whole loops at once */
                run->loop_n += remaining / run->lines_per_pass;
                remaining %= run->lines_per_pass;
            }
            continue;
        }
        remaining--;
        run->line_in_pass++;
        run->skipped_in_pass = 1;
    }
    return 0;
}

/* The id of an emitted event: the line's id (or its line number), "-<loop>" after the first. */
static void set_id(live_event_t *ev, const replay_run_t *run)
{
    char base[LIVE_UPSTREAM_ID_MAX + 1], suffix[24] = "";
    size_t room;

    if (ev->upstream_id[0])
        memcpy(base, ev->upstream_id, sizeof(base));
    else
        snprintf(base, sizeof(base), "line-%lld", (long long)run->line_in_pass);
    if (run->loop_n > 0)
        snprintf(suffix, sizeof(suffix), "-%lld", (long long)run->loop_n);
    room = LIVE_UPSTREAM_ID_MAX - strlen(suffix);
    snprintf(ev->upstream_id, sizeof(ev->upstream_id), "%.*s%s", (int)room, base, suffix);
}

static void play(live_source_t *src, replay_run_t *run)
{
    char err[160];
    int64_t due = 0, prev_time = 0, gap = 0;
    int have_prev = 0, live = 0, too_long, r;
    size_t len;

    for (;;) {
        live_event_t *ev;
        int64_t now;

        if (stopped(src))
            return;
        r = read_line(src, run->f, &len, &too_long);
        if (r < 0) {
            report(src, LIVE_SOURCE_FAILED, "recording_unreadable", "reading the recording failed");
            return;
        }
        if (r == 0) {
            if (at_eof(src, run) != 0)
                return;
            /* Between loops: a one-second pause (at the speed), not the time jump back. */
            have_prev = 0;
            gap = (int64_t)(1000000 / src->speed);
            continue;
        }
        run->position++;
        run->line_in_pass++;
        if (len == 0 || strspn(src->line, " \t") == len)
            continue;
        if (too_long) {
            bad_line(src, run->line_in_pass, "longer than 16 KiB");
            continue;
        }
        ev = live_event_parse(src->line, len, err, sizeof(err));
        if (!ev) {
            bad_line(src, run->line_in_pass, err);
            continue;
        }
        if (ev->type == LIVE_EV_STATUS) {      /* the session writes its own status events */
            live_event_free(ev);
            continue;
        }
        if (have_prev)
            gap = (int64_t)((double)(ev->created_us - prev_time) / src->speed);
        gap = gap < 0 ? 0 : gap > REPLAY_WAIT_MAX ? REPLAY_WAIT_MAX : gap;
        now = live_mono_us();
        due = live ? due + gap : now;
        if (due < now - REPLAY_BEHIND_MAX)     /* the inbox held us up: no burst to catch up */
            due = now;
        prev_time = ev->created_us;
        have_prev = 1;
        gap = 0;
        if (wait_until(src, due)) {
            live_event_free(ev);
            return;
        }
        set_id(ev, run);
        ev->created_us = live_now_us();
        if (!live) {
            LIVE_INFO("replay %s: playing %s at x%g%s from line %lld", src->session_id,
                      src->recording, src->speed, src->loop ? ", looping" : "",
                      (long long)run->position - 1);
            report(src, LIVE_SOURCE_LIVE, NULL, NULL);
            live = 1;
        }
        run->emitted_in_pass++;
        if (src->sink.emit(src->sink.ctx, ev, run->position) != 0)
            return;
    }
}

static void *replay_thread(void *arg)
{
    live_source_t *src = arg;
    replay_run_t run = { .position = src->position };

    run.f = open_recording(src);
    if (!run.f)
        return NULL;
    if (skip_played(src, &run) == 0)
        play(src, &run);
    fclose(run.f);
    if (src->bad > 0)
        LIVE_INFO("replay %s: %llu bad lines skipped in %s.ndjson", src->session_id,
                  (unsigned long long)src->bad, src->recording);
    return NULL;
}

static int name_ok(const char *s, const char *extra, size_t max)
{
    size_t n = strlen(s);

    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              strchr(extra, s[i])))
            return 0;
    return 1;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Options {"speed", "loop", "recording"} over the configured defaults. -1 with err. */
static int read_options(live_source_t *src, const live_config_t *cfg, const char *username,
                        json_t *options, char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    src->speed = cfg->replay_speed > 0 ? cfg->replay_speed : 1.0;
    src->loop = cfg->replay_loop;
    src->recording[0] = '\0';
    if (options && !json_is_null(options) && !json_is_object(options)) {
        snprintf(err, errlen, "options must be an object");
        return -1;
    }
    json_object_foreach(options, key, v) {
        if (strcmp(key, "speed") == 0) {
            if (!json_is_number(v) || json_number_value(v) < 0.1 || json_number_value(v) > 1000) {
                snprintf(err, errlen, "speed must be a number from 0.1 to 1000");
                return -1;
            }
            src->speed = json_number_value(v);
        } else if (strcmp(key, "loop") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "loop must be true or false");
                return -1;
            }
            src->loop = json_is_true(v);
        } else if (strcmp(key, "recording") == 0) {
            if (!json_is_string(v) || !name_ok(json_string_value(v), "_-", 64)) {
                snprintf(err, errlen, "recording must match ^[a-z0-9_-]{1,64}$");
                return -1;
            }
            snprintf(src->recording, sizeof(src->recording), "%s", json_string_value(v));
        } else {
            snprintf(err, errlen, "unknown replay option \"%.64s\"", key);
            return -1;
        }
    }
    if (!src->recording[0]) {
        /* A recording named after the user when there is one, else the shipped sample. */
        if (username && name_ok(username, "_.", 24) && username[0] != '.') {
            snprintf(src->path, sizeof(src->path), "%s/%s.ndjson", cfg->replay_dir, username);
            if (file_exists(src->path))
                snprintf(src->recording, sizeof(src->recording), "%s", username);
        }
        if (!src->recording[0])
            snprintf(src->recording, sizeof(src->recording), "demo");
    }
    snprintf(src->path, sizeof(src->path), "%s/%s.ndjson", cfg->replay_dir, src->recording);
    return 0;
}

static live_source_t *replay_start(const live_config_t *cfg, const char *session_id,
                                   const char *username, json_t *options, int64_t position,
                                   const live_source_sink_t *sink, char *err, size_t errlen)
{
    live_source_t *src = calloc(1, sizeof(*src));

    if (!src) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(src->session_id, sizeof(src->session_id), "%s", session_id);
    src->position = position > 0 ? position : 0;
    src->sink = *sink;
    if (read_options(src, cfg, username, options, err, errlen) != 0) {
        free(src);
        return NULL;
    }
    pthread_mutex_init(&src->lock, NULL);
    live_cond_init_monotonic(&src->cond);
    if (pthread_create(&src->thread, NULL, replay_thread, src) != 0) {
        snprintf(err, errlen, "cannot start the replay thread");
        pthread_cond_destroy(&src->cond);
        pthread_mutex_destroy(&src->lock);
        free(src);
        return NULL;
    }
    pthread_setname_np(src->thread, "live-replay");
    return src;
}

static void replay_stop(live_source_t *src)
{
    if (!src)
        return;
    pthread_mutex_lock(&src->lock);
    src->stop = 1;
    pthread_cond_broadcast(&src->cond);
    pthread_mutex_unlock(&src->lock);
    pthread_join(src->thread, NULL);
    pthread_cond_destroy(&src->cond);
    pthread_mutex_destroy(&src->lock);
    free(src);
}

const live_source_ops_t live_source_replay = {
    .name = "replay",
    .start = replay_start,
    .stop = replay_stop,
};
