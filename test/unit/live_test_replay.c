/* Unit tests of the replay source (sidecar/source/replay.c) against a fake sink and temporary
 * recordings: pacing by speed, ids across loops, resuming from a position, bad lines, a
 * prompt stop, the end of a recording, a missing one, and the options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "source/source.h"

#define MAX_SEEN 64

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    char ids[MAX_SEEN][LIVE_UPSTREAM_ID_MAX + 1];
    int64_t positions[MAX_SEEN], created[MAX_SEEN], mono[MAX_SEEN];
    int live_at;                 /* events seen when LIVE was reported, -1 before */
    int final;                   /* 0 none, else LIVE_SOURCE_ENDED / LIVE_SOURCE_FAILED */
    char reason[64];
} fake_t;

static char dir[64];
static live_config_t cfg;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fake_emit(void *ctx, live_event_t *ev, int64_t position)
{
    fake_t *f = ctx;
    pthread_mutex_lock(&f->lock);
    if (f->n < MAX_SEEN) {
        strcpy(f->ids[f->n], ev->upstream_id);
        f->positions[f->n] = position;
        f->created[f->n] = ev->created_us;
        f->mono[f->n] = mono_us();
        f->n++;
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    live_event_free(ev);
    return 0;
}

static void fake_state(void *ctx, live_source_state_t st, const char *reason, const char *detail)
{
    fake_t *f = ctx;
    (void)detail;
    pthread_mutex_lock(&f->lock);
    if (st == LIVE_SOURCE_LIVE && f->live_at < 0)
        f->live_at = f->n;
    if (st == LIVE_SOURCE_ENDED || st == LIVE_SOURCE_FAILED) {
        f->final = (int)st;
        snprintf(f->reason, sizeof(f->reason), "%s", reason ? reason : "");
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static void fake_init(fake_t *f, live_source_sink_t *sink)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->live_at = -1;
    sink->emit = fake_emit;
    sink->emit_nowait = fake_emit;
    sink->state = fake_state;
    sink->ctx = f;
}

static void fake_destroy(fake_t *f)
{
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
}

/* Waits (at most timeout_ms) for n events or (n < 0) for a final state. 1 when it came. */
static int fake_wait(fake_t *f, int n, int timeout_ms)
{
    struct timespec ts;
    int ok;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&f->lock);
    while (!(n < 0 ? f->final != 0 : f->n >= n))
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
            break;
    ok = n < 0 ? f->final != 0 : f->n >= n;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

/* <dir>/<name>.ndjson with events e1..en, step_ms apart, plus extra raw lines first. */
static void write_recording(const char *name, int n, int step_ms, const char *prefix)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s.ndjson", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    if (prefix)
        fputs(prefix, f);
    for (int i = 1; i <= n; i++) {
        int64_t ms = (int64_t)(i - 1) * step_ms;
        fprintf(f, "{\"type\":\"comment\",\"id\":\"e%d\",\"time\":\"2026-11-24T%02d:%02d:%02d.%03dZ\","
                "\"user\":{\"id\":\"%d\",\"username\":\"user%d\",\"nickname\":\"U\",\"avatar_url\":"
                "\"https://a.b/%d.jpeg\"},\"text\":\"line %d\"}\n", i, (int)(10 + ms / 3600000),
                (int)(ms / 60000 % 60),
                (int)(ms / 1000 % 60), (int)(ms % 1000), i, i, i, i);
    }
    fclose(f);
}

static live_source_t *start(const char *username, const char *options, int64_t position,
                            live_source_sink_t *sink, char *err)
{
    json_t *opts = options ? json_loads(options, 0, NULL) : NULL;
    live_source_t *src;
    if (options)
        assert_non_null(opts);
    src = live_source_replay.start(&cfg, "test-session", username, opts, position, sink, err,
                                   128);
    json_decref(opts);
    return src;
}

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(live_source_find("replay"), &live_source_replay);
    assert_null(live_source_find("tiktok-ish"));
    assert_null(live_source_find(NULL));
}

static void test_paced_by_speed(void **state)
{
    live_source_sink_t sink;
    fake_t f;
    char err[128];
    live_source_t *src;
    int64_t before = live_now_us();
    (void)state;

    write_recording("paced", 5, 1000, NULL);          /* 4 s of recording ... */
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"paced\",\"speed\":10,\"loop\":false}", 0, &sink, err);
    assert_non_null(src);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.final, LIVE_SOURCE_ENDED);
    assert_string_equal(f.reason, "recording_finished");
    assert_int_equal(f.n, 5);
    assert_int_equal(f.live_at, 0);                     /* LIVE before the first event */
    /* ... played in 0.4 s at x10. */
    assert_true(f.mono[4] - f.mono[0] >= 350000);
    assert_true(f.mono[4] - f.mono[0] < 1000000);
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "e%d", i + 1);
        assert_string_equal(f.ids[i], id);
        assert_int_equal(f.positions[i], i + 1);
        assert_true(f.created[i] >= before && f.created[i] <= live_now_us());   /* time = now */
    }
    fake_destroy(&f);
}

static void test_resume_from_position(void **state)
{
    live_source_sink_t sink;
    fake_t f;
    char err[128];
    live_source_t *src;
    (void)state;

    write_recording("resume", 5, 10, NULL);
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"resume\",\"loop\":false,\"speed\":100}", 3, &sink, err);
    assert_non_null(src);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.ids[0], "e4");
    assert_int_equal(f.positions[0], 4);
    assert_string_equal(f.ids[1], "e5");
    assert_int_equal(f.positions[1], 5);
    assert_int_equal(f.final, LIVE_SOURCE_ENDED);
    fake_destroy(&f);

    /* Resuming at (or past) the end of a recording that does not loop: it is finished. */
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"resume\",\"loop\":false}", 9, &sink, err);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.n, 0);
    assert_string_equal(f.reason, "recording_finished");
    fake_destroy(&f);
}

static void test_loop_ids_and_resume(void **state)
{
    static const char *const want[] = { "e1", "e2", "e3", "e1-1", "e2-1", "e3-1", "e1-2", "e2-2" };
    live_source_sink_t sink;
    fake_t f;
    char err[128];
    live_source_t *src;
    (void)state;

    write_recording("loop", 3, 10, NULL);
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"loop\",\"loop\":true,\"speed\":1000}", 0, &sink, err);
    assert_non_null(src);
    assert_true(fake_wait(&f, 8, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.final, 0);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(f.ids[i], want[i]);
        assert_int_equal(f.positions[i], i + 1);
    }
    fake_destroy(&f);

    /* Position 7 = two whole loops and one line: carries on with e2 of the third loop. */
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"loop\",\"loop\":true,\"speed\":1000}", 7, &sink, err);
    assert_true(fake_wait(&f, 2, 5000));
    live_source_replay.stop(src);
    assert_string_equal(f.ids[0], "e2-2");
    assert_int_equal(f.positions[0], 8);
    assert_string_equal(f.ids[1], "e3-2");
    fake_destroy(&f);
}

static void test_stop_is_prompt(void **state)
{
    live_source_sink_t sink;
    fake_t f;
    char err[128];
    live_source_t *src;
    int64_t t0;
    (void)state;

    write_recording("slow", 3, 3600 * 1000, NULL);     /* an hour apart (capped at 5 s) */
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"slow\",\"speed\":1}", 0, &sink, err);
    assert_true(fake_wait(&f, 1, 5000));
    usleep(50000);
    t0 = mono_us();
    live_source_replay.stop(src);
    assert_true(mono_us() - t0 < 100000);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.final, 0);                       /* a stop reports nothing */
    fake_destroy(&f);
}

static void test_missing_and_empty(void **state)
{
    live_source_sink_t sink;
    fake_t f;
    char err[128], path[128];
    live_source_t *src;
    FILE *fp;
    (void)state;

    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"does-not-exist\"}", 0, &sink, err);
    assert_non_null(src);                               /* the thread reports it */
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.final, LIVE_SOURCE_FAILED);
    assert_string_equal(f.reason, "recording_not_found");
    assert_int_equal(f.n, 0);
    assert_int_equal(f.live_at, -1);
    fake_destroy(&f);

    snprintf(path, sizeof(path), "%s/empty.ndjson", dir);
    fp = fopen(path, "w");
    fclose(fp);
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"empty\",\"loop\":true}", 0, &sink, err);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.final, LIVE_SOURCE_FAILED);
    assert_string_equal(f.reason, "recording_empty");
    fake_destroy(&f);

    /* Looping over a recording without one playable line would spin: it fails instead. */
    snprintf(path, sizeof(path), "%s/junk.ndjson", dir);
    fp = fopen(path, "w");
    fputs("junk\n{\"type\":\"nope\"}\n", fp);
    fclose(fp);
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"junk\",\"loop\":true}", 0, &sink, err);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_string_equal(f.reason, "recording_empty");
    fake_destroy(&f);
}

static void test_bad_lines_skipped(void **state)
{
    live_source_sink_t sink;
    fake_t f;
    char err[128], *prefix = malloc(20000);
    live_source_t *src;
    int k;
    (void)state;

    /* Line 1 garbage, 2 blank, 3 too long (17 KiB), 4 a status line (skipped, the session
     * writes its own), 5 unknown type; then e1..e2 on lines 6 and 7 (CRLF tolerated). */
    k = sprintf(prefix, "garbage\n\n");
    memset(prefix + k, 'x', 17 * 1024);
    k += 17 * 1024;
    k += sprintf(prefix + k, "\n{\"type\":\"status\",\"time\":\"2026-11-24T10:00:00Z\",\"status\":"
                 "\"ended\"}\n{\"type\":\"poke\",\"time\":\"2026-11-24T10:00:00Z\"}\r\n");
    write_recording("bad", 2, 10, prefix);
    free(prefix);
    fake_init(&f, &sink);
    src = start("nobody", "{\"recording\":\"bad\",\"loop\":false,\"speed\":100}", 0, &sink, err);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.ids[0], "e1");
    assert_int_equal(f.positions[0], 6);
    assert_int_equal(f.positions[1], 7);
    assert_string_equal(f.reason, "recording_finished");
    fake_destroy(&f);
}

static void test_options(void **state)
{
    static const char *const bad[] = {
        "{\"speed\":0.01}", "{\"speed\":2000}", "{\"speed\":\"fast\"}", "{\"loop\":\"yes\"}",
        "{\"recording\":\"../etc\"}", "{\"recording\":\"\"}", "{\"recording\":\"UPPER\"}",
        "{\"colour\":\"red\"}", "[1]",
    };
    live_source_sink_t sink;
    fake_t f;
    char err[128];
    live_source_t *src;
    (void)state;

    fake_init(&f, &sink);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(start("nobody", bad[i], 0, &sink, err));
        assert_true(err[0] != '\0');
    }
    fake_destroy(&f);

    /* No recording named: <username>.ndjson when it exists ... */
    write_recording("carol.x", 1, 10, NULL);
    fake_init(&f, &sink);
    src = start("carol.x", "{\"loop\":false}", 0, &sink, err);
    assert_non_null(src);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.reason, "recording_finished");
    fake_destroy(&f);

    /* ... else "demo"; no options at all: the configured defaults (no loop here). */
    write_recording("demo", 2, 10, NULL);
    fake_init(&f, &sink);
    src = start("zed", NULL, 0, &sink, err);
    assert_non_null(src);
    assert_true(fake_wait(&f, -1, 5000));
    live_source_replay.stop(src);
    assert_int_equal(f.n, 2);
    fake_destroy(&f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/live_test_replay.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    live_log_set_level(LIVE_LOG_ERROR);
    live_config_defaults(&cfg);
    snprintf(cfg.replay_dir, sizeof(cfg.replay_dir), "%s", dir);
    cfg.replay_speed = 100;
    cfg.replay_loop = 0;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_paced_by_speed),
        cmocka_unit_test(test_resume_from_position),
        cmocka_unit_test(test_loop_ids_and_resume),
        cmocka_unit_test(test_stop_is_prompt),
        cmocka_unit_test(test_missing_and_empty),
        cmocka_unit_test(test_bad_lines_skipped),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
