/* The shared-memory metrics layout, exercised on a plain heap block. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/metrics.h"

#define ROUTES 4             /* 3 routes + "unmatched" */
#define KEY 0x1234abcdULL
#define MS(n) ((apr_time_t)(n) * 1000)
/* A fixed minute boundary, so tests control which minute a sample falls in. */
#define T0 (apr_time_from_sec(1800000000))
#define MINUTE(n) (T0 + apr_time_from_sec(60) * (n))

typedef struct {
    void *mem;
    profile_metrics_t *m;
    profile_metrics_summary_t sum;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem = malloc(profile_metrics_size());
    assert_non_null(f->mem);
    memset(f->mem, 0xa5, profile_metrics_size());  /* garbage, as in fresh shared memory */
    f->m = profile_metrics_init(f->mem, KEY, ROUTES, T0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    free(f->mem);
    free(f);
    return 0;
}

static void test_empty(void **state)
{
    fixture_t *f = *state;

    profile_metrics_summarize(f->m, 60, MINUTE(0), &f->sum);
    assert_int_equal(f->sum.total, 0);
    assert_true(f->sum.p50_ms == 0.0);
    assert_true(f->sum.error_rate == 0.0);
    assert_int_equal(profile_metrics_started(f->m), T0);
}

static void test_counts_by_route_and_class(void **state)
{
    fixture_t *f = *state;

    profile_metrics_record(f->m, 0, 200, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 0, 204, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 1, 404, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 2, 301, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 2, 101, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 3, 500, MS(1), MINUTE(0));
    profile_metrics_summarize(f->m, 5, MINUTE(0) + 1, &f->sum);

    assert_int_equal(f->sum.total, 6);
    assert_int_equal(f->sum.by_class[0], 1);
    assert_int_equal(f->sum.by_class[1], 2);
    assert_int_equal(f->sum.by_class[2], 1);
    assert_int_equal(f->sum.by_class[3], 1);
    assert_int_equal(f->sum.by_class[4], 1);
    assert_int_equal(f->sum.by_route[0][1], 2);
    assert_int_equal(f->sum.by_route[1][3], 1);
    assert_int_equal(f->sum.by_route[2][0], 1);
    assert_int_equal(f->sum.by_route[2][2], 1);
    assert_int_equal(f->sum.by_route[3][4], 1);
    assert_true(f->sum.error_rate > 0.1666 && f->sum.error_rate < 0.1667);
}

static void test_out_of_range_route_and_status(void **state)
{
    fixture_t *f = *state;

    profile_metrics_record(f->m, ROUTES, 200, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 1000, 200, MS(1), MINUTE(0));
    profile_metrics_record(f->m, -1, 200, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 0, 99, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 0, 600, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 0, 0, MS(1), MINUTE(0));
    profile_metrics_summarize(f->m, 1, MINUTE(0), &f->sum);

    assert_int_equal(f->sum.by_route[ROUTES - 1][1], 3);  /* the "unmatched" slot */
    assert_int_equal(f->sum.by_route[0][4], 3);           /* counted as 5xx */
    assert_int_equal(f->sum.by_class[4], 3);
    assert_true(f->sum.error_rate == 0.5);
    /* Nothing lands beyond the configured routes. */
    assert_int_equal(f->sum.by_route[ROUTES][1], 0);
}

static void test_window_excludes_old_minutes(void **state)
{
    fixture_t *f = *state;

    profile_metrics_record(f->m, 0, 200, MS(1), MINUTE(0));
    profile_metrics_record(f->m, 0, 200, MS(1), MINUTE(3));
    profile_metrics_record(f->m, 0, 200, MS(1), MINUTE(3));
    profile_metrics_record(f->m, 0, 500, MS(1), MINUTE(4) + apr_time_from_sec(59));

    profile_metrics_summarize(f->m, 1, MINUTE(4) + apr_time_from_sec(59), &f->sum);
    assert_int_equal(f->sum.total, 1);
    profile_metrics_summarize(f->m, 2, MINUTE(4), &f->sum);
    assert_int_equal(f->sum.total, 3);
    profile_metrics_summarize(f->m, 5, MINUTE(4), &f->sum);
    assert_int_equal(f->sum.total, 4);
    profile_metrics_summarize(f->m, 5, MINUTE(5), &f->sum);
    assert_int_equal(f->sum.total, 3);
    /* A window larger than the ring is clamped, not wrapped. */
    profile_metrics_summarize(f->m, 1000, MINUTE(4), &f->sum);
    assert_int_equal(f->sum.total, 4);
    /* A minute more than an hour old is outside every window. */
    profile_metrics_summarize(f->m, 60, MINUTE(60), &f->sum);
    assert_int_equal(f->sum.total, 3);
    profile_metrics_summarize(f->m, 60, MINUTE(63), &f->sum);
    assert_int_equal(f->sum.total, 1);
}

static void test_bucket_reset_when_minute_comes_round(void **state)
{
    fixture_t *f = *state;
    int i;

    for (i = 0; i < 10; i++)
        profile_metrics_record(f->m, 1, 500, MS(100), MINUTE(2));
    /* Minute 62 uses the same slot as minute 2: the old counts must go. */
    profile_metrics_record(f->m, 0, 200, MS(1), MINUTE(62));
    profile_metrics_summarize(f->m, 60, MINUTE(62), &f->sum);
    assert_int_equal(f->sum.total, 1);
    assert_int_equal(f->sum.by_route[1][4], 0);
    assert_int_equal(f->sum.by_route[0][1], 1);
    assert_true(f->sum.p99_ms < 2.0);
    /* A late sample for the overwritten minute is dropped, not mixed in. */
    profile_metrics_record(f->m, 1, 500, MS(100), MINUTE(2));
    profile_metrics_summarize(f->m, 60, MINUTE(62), &f->sum);
    assert_int_equal(f->sum.total, 1);
}

static void assert_near(double got, double want, double rel)
{
    if (got < want * (1.0 - rel) || got > want * (1.0 + rel))
        fail_msg("got %.3f, want %.3f within %.0f%%", got, want, rel * 100);
}

static void test_percentiles(void **state)
{
    fixture_t *f = *state;
    int i;

    /* 1..1000 ms, 10 samples each: p50 ≈ 500 ms, p95 ≈ 950 ms, p99 ≈ 990 ms. */
    for (i = 1; i <= 1000; i++) {
        int k;

        for (k = 0; k < 10; k++)
            profile_metrics_record(f->m, 0, 200, MS(i), MINUTE(k % 3));
    }
    profile_metrics_summarize(f->m, 5, MINUTE(2), &f->sum);
    assert_int_equal(f->sum.total, 10000);
    assert_near(f->sum.p50_ms, 500.0, 0.15);
    assert_near(f->sum.p95_ms, 950.0, 0.15);
    assert_near(f->sum.p99_ms, 990.0, 0.15);
    assert_true(f->sum.p50_ms <= f->sum.p95_ms && f->sum.p95_ms <= f->sum.p99_ms);
}

static void test_percentiles_extremes(void **state)
{
    fixture_t *f = *state;

    profile_metrics_record(f->m, 0, 200, 0, MINUTE(0));
    profile_metrics_record(f->m, 0, 200, -5, MINUTE(0));
    profile_metrics_summarize(f->m, 1, MINUTE(0), &f->sum);
    assert_true(f->sum.p99_ms > 0.0 && f->sum.p99_ms < 0.01);

    /* Slower than the last octave (about 18 minutes): reported, not lost. */
    profile_metrics_record(f->m, 0, 200, apr_time_from_sec(3600), MINUTE(0));
    profile_metrics_record(f->m, 0, 200, apr_time_from_sec(3600), MINUTE(0));
    profile_metrics_summarize(f->m, 1, MINUTE(0), &f->sum);
    assert_int_equal(f->sum.total, 4);
    assert_true(f->sum.p99_ms > 600000.0);

    /* Ten minutes still lands in a regular bucket. */
    profile_metrics_record(f->m, 0, 200, apr_time_from_sec(600), MINUTE(1));
    profile_metrics_summarize(f->m, 1, MINUTE(1), &f->sum);
    assert_near(f->sum.p50_ms, 600000.0, 0.25);
}

static void test_init_keeps_matching_block(void **state)
{
    fixture_t *f = *state;
    profile_metrics_t *again;

    profile_metrics_record(f->m, 0, 200, MS(5), MINUTE(0));
    again = profile_metrics_init(f->mem, KEY, ROUTES, MINUTE(1));
    assert_ptr_equal(again, f->m);
    profile_metrics_summarize(again, 5, MINUTE(1), &f->sum);
    assert_int_equal(f->sum.total, 1);
    assert_int_equal(profile_metrics_started(again), T0);
}

static void test_init_reformats_other_layout(void **state)
{
    fixture_t *f = *state;

    profile_metrics_record(f->m, 0, 200, MS(5), MINUTE(0));
    profile_metrics_init(f->mem, KEY + 1, ROUTES, MINUTE(1));
    profile_metrics_summarize(f->m, 5, MINUTE(1), &f->sum);
    assert_int_equal(f->sum.total, 0);
    /* The server start survives: this is the same server lifetime. */
    assert_int_equal(profile_metrics_started(f->m), T0);

    profile_metrics_record(f->m, 0, 200, MS(5), MINUTE(1));
    profile_metrics_init(f->mem, KEY + 1, ROUTES + 1, MINUTE(2));
    profile_metrics_summarize(f->m, 5, MINUTE(2), &f->sum);
    assert_int_equal(f->sum.total, 0);
}

static void test_routes_clamped(void **state)
{
    fixture_t *f = *state;

    profile_metrics_init(f->mem, KEY + 2, PROFILE_METRICS_MAX_ROUTES + 10, T0);
    profile_metrics_record(f->m, PROFILE_METRICS_MAX_ROUTES + 5, 200, MS(1), MINUTE(0));
    profile_metrics_summarize(f->m, 1, MINUTE(0), &f->sum);
    assert_int_equal(f->sum.by_route[PROFILE_METRICS_MAX_ROUTES - 1][1], 1);
}

#define THREADS 4
#define PER_THREAD 20000

typedef struct {
    profile_metrics_t *m;
    pthread_barrier_t *barrier;
} worker_arg_t;

static void *worker(void *data)
{
    worker_arg_t *a = data;
    int i;

    for (i = 0; i < PER_THREAD; i++)
        profile_metrics_record(a->m, i % ROUTES, 200, MS(1), MINUTE(0));
    pthread_barrier_wait(a->barrier);
    /* Every thread now races to reset the same slot for minute 60. */
    for (i = 0; i < PER_THREAD; i++)
        profile_metrics_record(a->m, i % ROUTES, 500, MS(1), MINUTE(60));
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    fixture_t *f = *state;
    pthread_t threads[THREADS];
    pthread_barrier_t barrier;
    worker_arg_t arg = { f->m, &barrier };
    int i;

    pthread_barrier_init(&barrier, NULL, THREADS);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &arg), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    profile_metrics_summarize(f->m, 1, MINUTE(60), &f->sum);
    /* No increment is lost; a writer may drop at most the one sample it brought while
     * another thread was resetting the slot. Nothing of minute 0 remains. */
    assert_true(f->sum.total <= THREADS * PER_THREAD);
    assert_true(f->sum.total >= THREADS * PER_THREAD - (THREADS - 1));
    assert_int_equal(f->sum.by_class[4], f->sum.total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_by_route_and_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_route_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_excludes_old_minutes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_reset_when_minute_comes_round, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_percentiles_extremes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_keeps_matching_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_reformats_other_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
