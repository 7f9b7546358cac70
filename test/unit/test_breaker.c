/* The upstream gate and circuit breaker, on a plain heap block with a hand-driven clock, and
 * the gate under threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/breaker.h"

#define SEC(n) ((apr_int64_t)(n) * 1000000)
#define MS(n) ((apr_int64_t)(n) * 1000)
#define T0 SEC(1800000000)
#define THREADS 4

static const profile_breaker_limits_t limits = {
    .max_concurrent = 4, .threshold = 3, .cooldown = SEC(30), .stale_after = SEC(60)
};

static int setup(void **state)
{
    void *mem = malloc(profile_breaker_size());

    if (!mem)
        return -1;
    memset(mem, 0xa5, profile_breaker_size());   /* garbage, as in a reused block */
    *state = profile_breaker_init(mem);
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* One whole fetch at now with the given outcome; the verdict of the gate. */
static profile_breaker_verdict_t fetch(profile_breaker_t *b, apr_time_t now,
                                       profile_fetch_outcome_t outcome)
{
    int slot = -1;
    profile_breaker_verdict_t v = profile_breaker_enter(b, &limits, now, &slot);

    if (v == PROFILE_BREAKER_GO)
        profile_breaker_done(b, &limits, slot, now, outcome, 0);
    return v;
}

static const char *state_of(profile_breaker_t *b, apr_time_t now)
{
    profile_breaker_state_t st;

    profile_breaker_state(b, now, &st);
    return st.state;
}

static void open_it(profile_breaker_t *b, apr_time_t now)
{
    int i;

    for (i = 0; i < limits.threshold; i++)
        assert_int_equal(fetch(b, now, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
}

static void test_threshold_opens(void **state)
{
    profile_breaker_t *b = *state;
    profile_breaker_state_t st;

    assert_int_equal(fetch(b, T0, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
    assert_int_equal(fetch(b, T0, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
    profile_breaker_state(b, T0, &st);
    assert_string_equal(st.state, "closed");
    assert_int_equal(st.consecutive_failures, 2);
    assert_int_equal(st.open_until, 0);
    assert_int_equal(fetch(b, T0, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
    profile_breaker_state(b, T0, &st);
    assert_string_equal(st.state, "open");
    assert_int_equal(st.open_until, T0 + SEC(30));
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(fetch(b, T0 + SEC(29), PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_OPEN);
}

static void test_success_resets_failures(void **state)
{
    profile_breaker_t *b = *state;
    profile_breaker_state_t st;
    int round;

    for (round = 0; round < 3; round++) {
        assert_int_equal(fetch(b, T0, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
        assert_int_equal(fetch(b, T0, PROFILE_FETCH_FAILED), PROFILE_BREAKER_GO);
        assert_int_equal(fetch(b, T0, PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_GO);
    }
    profile_breaker_state(b, T0, &st);
    assert_string_equal(st.state, "closed");
    assert_int_equal(st.consecutive_failures, 0);
}

static void test_one_trial_after_cooldown(void **state)
{
    profile_breaker_t *b = *state;
    apr_time_t end = T0 + SEC(30);
    int trial, other;

    open_it(b, T0);
    assert_int_equal(profile_breaker_enter(b, &limits, end - 1, &trial), PROFILE_BREAKER_OPEN);
    assert_string_equal(state_of(b, end), "half_open");
    assert_int_equal(profile_breaker_enter(b, &limits, end, &trial), PROFILE_BREAKER_GO);
    /* Only one trial, however many ask and for as long as it runs. */
    assert_int_equal(profile_breaker_enter(b, &limits, end, &other), PROFILE_BREAKER_OPEN);
    assert_int_equal(profile_breaker_enter(b, &limits, end + SEC(59), &other),
                     PROFILE_BREAKER_OPEN);
    assert_string_equal(state_of(b, end + SEC(59)), "half_open");
    assert_int_equal(profile_breaker_done(b, &limits, trial, end + SEC(1),
                                          PROFILE_FETCH_SUCCEEDED, 0),
                     PROFILE_BREAKER_CLOSED);
    assert_string_equal(state_of(b, end + SEC(1)), "closed");
    assert_int_equal(fetch(b, end + SEC(1), PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_GO);
    assert_int_equal(fetch(b, end + SEC(1), PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_GO);
}

static void test_failed_trial_reopens(void **state)
{
    profile_breaker_t *b = *state;
    apr_time_t end = T0 + SEC(30), again;
    profile_breaker_state_t st;
    int trial;

    open_it(b, T0);
    assert_int_equal(profile_breaker_enter(b, &limits, end, &trial), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_done(b, &limits, trial, end + SEC(2),
                                          PROFILE_FETCH_FAILED, 0),
                     PROFILE_BREAKER_REOPENED);
    again = end + SEC(2) + SEC(30);
    profile_breaker_state(b, end + SEC(2), &st);
    assert_string_equal(st.state, "open");
    assert_int_equal(st.open_until, again);
    assert_int_equal(fetch(b, again - 1, PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_OPEN);
    /* The next period has its own trial. */
    assert_int_equal(fetch(b, again, PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_GO);
    assert_string_equal(state_of(b, again), "closed");
}

static void test_throttled_opens_for_retry_after(void **state)
{
    profile_breaker_t *b = *state;
    profile_breaker_state_t st;
    int slot, trial;

    assert_int_equal(profile_breaker_enter(b, &limits, T0, &slot), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_done(b, &limits, slot, T0, PROFILE_FETCH_THROTTLED,
                                          SEC(120)),
                     PROFILE_BREAKER_OPENED);
    profile_breaker_state(b, T0, &st);
    assert_string_equal(st.state, "open");
    assert_int_equal(st.open_until, T0 + SEC(120));
    assert_int_equal(fetch(b, T0 + SEC(119), PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_OPEN);
    /* A trial that is throttled again opens for the cooldown when there is no Retry-After. */
    assert_int_equal(profile_breaker_enter(b, &limits, T0 + SEC(120), &trial),
                     PROFILE_BREAKER_GO);
    profile_breaker_done(b, &limits, trial, T0 + SEC(120), PROFILE_FETCH_THROTTLED, 0);
    profile_breaker_state(b, T0 + SEC(120), &st);
    assert_int_equal(st.open_until, T0 + SEC(150));
}

/* A fetch that started before the circuit opened ends while it is open: only the trial
 * decides then. */
static void test_late_results_ignored_while_open(void **state)
{
    profile_breaker_t *b = *state;
    int late;

    assert_int_equal(profile_breaker_enter(b, &limits, T0, &late), PROFILE_BREAKER_GO);
    open_it(b, T0);
    assert_int_equal(profile_breaker_done(b, &limits, late, T0 + SEC(1),
                                          PROFILE_FETCH_SUCCEEDED, 0),
                     PROFILE_BREAKER_UNCHANGED);
    assert_string_equal(state_of(b, T0 + SEC(1)), "open");
    assert_int_equal(fetch(b, T0 + SEC(1), PROFILE_FETCH_SUCCEEDED), PROFILE_BREAKER_OPEN);
}

static void test_gate_caps_concurrency(void **state)
{
    profile_breaker_t *b = *state;
    profile_breaker_state_t st;
    int slots[4], extra, i;

    for (i = 0; i < 4; i++)
        assert_int_equal(profile_breaker_enter(b, &limits, T0, &slots[i]), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_enter(b, &limits, T0, &extra), PROFILE_BREAKER_BUSY);
    profile_breaker_state(b, T0, &st);
    assert_int_equal(st.in_flight, 4);
    profile_breaker_done(b, &limits, slots[2], T0, PROFILE_FETCH_SUCCEEDED, 0);
    assert_int_equal(profile_breaker_enter(b, &limits, T0, &extra), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_enter(b, &limits, T0, &slots[2]), PROFILE_BREAKER_BUSY);
    /* A busy gate is not a failure of the upstream. */
    assert_string_equal(state_of(b, T0), "closed");
    profile_breaker_done(b, &limits, extra, T0, PROFILE_FETCH_SUCCEEDED, 0);
    for (i = 0; i < 4; i++)
        if (i != 2)
            profile_breaker_done(b, &limits, slots[i], T0, PROFILE_FETCH_SUCCEEDED, 0);
    profile_breaker_state(b, T0, &st);
    assert_int_equal(st.in_flight, 0);
}

static void test_stale_slot_taken_back(void **state)
{
    profile_breaker_t *b = *state;
    const profile_breaker_limits_t one = { 1, 3, SEC(30), SEC(60) };
    int dead, next, other;

    assert_int_equal(profile_breaker_enter(b, &one, T0, &dead), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_enter(b, &one, T0 + SEC(60), &next),
                     PROFILE_BREAKER_BUSY);
    assert_int_equal(profile_breaker_enter(b, &one, T0 + SEC(60) + MS(1), &next),
                     PROFILE_BREAKER_GO);
    /* The holder thought dead comes back: it cannot free its successor's slot. */
    profile_breaker_done(b, &one, dead, T0 + SEC(61), PROFILE_FETCH_SUCCEEDED, 0);
    assert_int_equal(profile_breaker_enter(b, &one, T0 + SEC(61), &other),
                     PROFILE_BREAKER_BUSY);
    profile_breaker_done(b, &one, next, T0 + SEC(61), PROFILE_FETCH_SUCCEEDED, 0);
    assert_int_equal(profile_breaker_enter(b, &one, T0 + SEC(61), &other), PROFILE_BREAKER_GO);
}

/* A trial whose holder died does not keep the circuit half-open for ever. */
static void test_stale_trial_taken_back(void **state)
{
    profile_breaker_t *b = *state;
    apr_time_t end = T0 + SEC(30);
    int dead, next;

    open_it(b, T0);
    assert_int_equal(profile_breaker_enter(b, &limits, end, &dead), PROFILE_BREAKER_GO);
    assert_int_equal(profile_breaker_enter(b, &limits, end + SEC(60), &next),
                     PROFILE_BREAKER_OPEN);
    assert_int_equal(profile_breaker_enter(b, &limits, end + SEC(61), &next),
                     PROFILE_BREAKER_GO);
    /* The old trial's late verdict no longer counts. */
    profile_breaker_done(b, &limits, dead, end + SEC(62), PROFILE_FETCH_SUCCEEDED, 0);
    assert_string_equal(state_of(b, end + SEC(62)), "half_open");
    profile_breaker_done(b, &limits, next, end + SEC(62), PROFILE_FETCH_SUCCEEDED, 0);
    assert_string_equal(state_of(b, end + SEC(62)), "closed");
}

/* A block that already holds a breaker keeps its state (graceful restart). */
static void test_init_keeps_state(void **state)
{
    profile_breaker_t *b = *state;

    open_it(b, T0);
    assert_ptr_equal(profile_breaker_init(b), b);
    assert_string_equal(state_of(b, T0), "open");
}

typedef struct {
    profile_breaker_t *b;
    const profile_breaker_limits_t *l;
    int *running;
    int max_running;
    int went;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    int i, slot, now;

    for (i = 0; i < 20000; i++) {
        if (profile_breaker_enter(w->b, w->l, T0, &slot) != PROFILE_BREAKER_GO)
            continue;
        w->went++;
        now = __atomic_add_fetch(w->running, 1, __ATOMIC_SEQ_CST);
        if (now > w->max_running)
            w->max_running = now;
        __atomic_sub_fetch(w->running, 1, __ATOMIC_SEQ_CST);
        profile_breaker_done(w->b, w->l, slot, T0, PROFILE_FETCH_SUCCEEDED, 0);
    }
    return NULL;
}

static void test_gate_under_threads(void **state)
{
    profile_breaker_t *b = *state;
    const profile_breaker_limits_t two = { 2, 3, SEC(30), SEC(60) };
    pthread_t th[THREADS];
    worker_t w[THREADS];
    profile_breaker_state_t st;
    int i, running = 0, went = 0;

    for (i = 0; i < THREADS; i++) {
        w[i] = (worker_t){ b, &two, &running, 0, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].max_running <= 2);
        went += w[i].went;
    }
    assert_true(went > 0);
    profile_breaker_state(b, T0, &st);
    assert_int_equal(st.in_flight, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threshold_opens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_resets_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_trial_after_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_trial_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttled_opens_for_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_results_ignored_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_caps_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_slot_taken_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_trial_taken_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_under_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
