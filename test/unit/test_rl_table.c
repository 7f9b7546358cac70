/* The shared rate-limit table, exercised on a plain heap block and with threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ratelimit/rl_table.h"

#define SEC(n) ((apr_int64_t)(n) * 1000000)
#define T0 SEC(1800000000)
#define THREADS 4

static void *fresh_block(apr_size_t capacity)
{
    void *mem = malloc(profile_rl_table_size(capacity));

    assert_non_null(mem);
    memset(mem, 0xa5, profile_rl_table_size(capacity));  /* garbage, as in a reused block */
    return mem;
}

static int decide(profile_rl_table_t *t, apr_uint64_t key, const profile_gcra_t *g,
                  apr_int64_t now)
{
    profile_gcra_result_t res;

    if (profile_rl_table_decide(t, key, g, now, &res) != 0)
        return -1;
    return res.allowed;
}

static void test_key_hash(void **state)
{
    (void)state;
    assert_int_equal(profile_rl_key("a", "b"), profile_rl_key("a", "b"));
    assert_int_not_equal(profile_rl_key("ab", ""), profile_rl_key("a", "b"));
    assert_int_not_equal(profile_rl_key("default", "ip:10.0.0.1"),
                         profile_rl_key("default", "ip:10.0.0.2"));
    assert_int_not_equal(profile_rl_key(NULL, NULL), 0);
}

static void test_many_keys(void **state)
{
    void *mem = fresh_block(4096);
    profile_rl_table_t *t = profile_rl_table_init(mem, 4096);
    profile_gcra_t g;
    profile_gcra_result_t res;
    char value[32];
    int k, i;

    (void)state;
    profile_gcra_init(&g, 5, 60, 0);
    for (k = 0; k < 1000; k++) {
        snprintf(value, sizeof(value), "ip:10.0.%d.%d", k / 256, k % 256);
        for (i = 0; i < 5; i++) {
            assert_int_equal(profile_rl_table_decide(t, profile_rl_key("p", value), &g, T0, &res),
                             0);
            assert_true(res.allowed);
            assert_int_equal(res.remaining, 4 - i);
        }
    }
    for (k = 0; k < 1000; k++) {
        snprintf(value, sizeof(value), "ip:10.0.%d.%d", k / 256, k % 256);
        assert_int_equal(decide(t, profile_rl_key("p", value), &g, T0 + SEC(1)), 0);
        assert_int_equal(decide(t, profile_rl_key("other", value), &g, T0 + SEC(1)), 1);
    }
    /* Key 0 is usable too (it shares a slot with key 1). */
    assert_int_equal(decide(t, 0, &g, T0), 1);
    assert_int_equal(profile_rl_table_decide(t, 1, &g, T0, &res), 0);
    assert_int_equal(res.remaining, 3);
    free(mem);
}

typedef struct {
    profile_rl_table_t *t;
    const profile_gcra_t *g;
    int keys;
    int rounds;
    int allowed;
    int failed;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    int i;

    for (i = 0; i < w->rounds; i++) {
        int rc = decide(w->t, profile_rl_key("p", "") + (apr_uint64_t)(i % w->keys) * 7919,
                        w->g, T0);

        if (rc < 0)
            w->failed++;
        else
            w->allowed += rc;
    }
    return NULL;
}

static int run_threads(profile_rl_table_t *t, const profile_gcra_t *g, int keys, int rounds,
                       int *failed)
{
    pthread_t th[THREADS];
    worker_t w[THREADS];
    int i, allowed = 0;

    *failed = 0;
    for (i = 0; i < THREADS; i++) {
        w[i] = (worker_t){ t, g, keys, rounds, 0, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        allowed += w[i].allowed;
        *failed += w[i].failed;
    }
    return allowed;
}

/* A frozen clock: no cell is ever paid back, so exactly burst decisions per key succeed. */
static void test_exact_under_threads_one_key(void **state)
{
    void *mem = fresh_block(1024);
    profile_rl_table_t *t = profile_rl_table_init(mem, 1024);
    profile_gcra_t g;
    int failed;

    (void)state;
    profile_gcra_init(&g, 100, 60, 100);
    assert_int_equal(run_threads(t, &g, 1, 5000, &failed), 100);
    assert_int_equal(failed, 0);
    free(mem);
}

/* Many keys inserted concurrently: no key ever gets two slots. */
static void test_exact_under_threads_many_keys(void **state)
{
    void *mem = fresh_block(1024);
    profile_rl_table_t *t = profile_rl_table_init(mem, 1024);
    profile_gcra_t g;
    int failed;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    assert_int_equal(run_threads(t, &g, 300, 6000, &failed), 300 * 10);
    assert_int_equal(failed, 0);
    free(mem);
}

static void test_full_table(void **state)
{
    void *mem = fresh_block(8);
    profile_rl_table_t *t = profile_rl_table_init(mem, 8);
    profile_gcra_t g;
    apr_uint64_t k;

    (void)state;
    profile_gcra_init(&g, 2, 60, 0);
    for (k = 1; k <= 8; k++)
        assert_int_equal(decide(t, k, &g, T0), 1);
    assert_int_equal(decide(t, 9, &g, T0), -1);
    assert_int_equal(decide(t, 100, &g, T0 + SEC(29)), -1);
    /* Keys that have a slot keep deciding. */
    for (k = 1; k <= 8; k++) {
        assert_int_equal(decide(t, k, &g, T0), 1);
        assert_int_equal(decide(t, k, &g, T0), 0);
    }
    free(mem);
}

static void test_takeover_of_expired_slots(void **state)
{
    void *mem = fresh_block(8);
    profile_rl_table_t *t = profile_rl_table_init(mem, 8);
    profile_gcra_t slow, fast;
    profile_gcra_result_t res;
    apr_uint64_t k;

    (void)state;
    profile_gcra_init(&slow, 1, 3600, 0);
    profile_gcra_init(&fast, 1, 1, 0);
    for (k = 1; k <= 7; k++)
        assert_int_equal(decide(t, k, &slow, T0), 1);
    assert_int_equal(decide(t, 8, &fast, T0), 1);        /* full again at T0 + 1 s */
    assert_int_equal(decide(t, 9, &slow, T0 + SEC(1) - 1), -1);
    assert_int_equal(profile_rl_table_decide(t, 9, &slow, T0 + SEC(1), &res), 0);
    assert_true(res.allowed);
    assert_int_equal(decide(t, 9, &slow, T0 + SEC(2)), 0);  /* 9 owns the slot now */
    /* 8 lost its slot while its bucket was full: nothing is lost, but no slot is free. */
    assert_int_equal(decide(t, 8, &fast, T0 + SEC(2)), -1);
    /* Live keys keep their state through all this. */
    for (k = 1; k <= 7; k++)
        assert_int_equal(decide(t, k, &slow, T0 + SEC(2)), 0);
    /* Once everything expired, anyone gets a slot and a full bucket. */
    assert_int_equal(profile_rl_table_decide(t, 8, &fast, T0 + SEC(3600), &res), 0);
    assert_true(res.allowed);
    assert_int_equal(decide(t, 100, &slow, T0 + SEC(3600)), 1);
    free(mem);
}

/* Threads racing for the last slots of a full window: each slot gets one key, once. */
static void test_full_under_threads(void **state)
{
    void *mem = fresh_block(16);
    profile_rl_table_t *t = profile_rl_table_init(mem, 16);
    profile_gcra_t g;
    int failed, allowed;

    (void)state;
    profile_gcra_init(&g, 1, 1, 0);
    /* 40 keys over 16 slots at one instant: at most 16 can hold a live slot. */
    allowed = run_threads(t, &g, 40, 2000, &failed);
    assert_int_equal(allowed, 16);
    assert_true(failed > 0);
    free(mem);
}

typedef struct {
    profile_rl_table_t *t;
    const profile_gcra_t *g;
    apr_int64_t *clock;
    int hot;
    int allowed;
} churn_t;

/* Hot threads hammer one key; the others cycle 1000 keys through the same small table, so
 * slots change owner all the time, and advance the shared clock by 1 µs per decision. */
static void *churn(void *arg)
{
    churn_t *c = arg;
    int i;

    for (i = 0; i < 20000; i++) {
        if (c->hot) {
            c->allowed += decide(c->t, 777, c->g, __atomic_load_n(c->clock, __ATOMIC_SEQ_CST))
                          == 1;
        } else {
            decide(c->t, 1000 + (apr_uint64_t)(i % 1000),
                   c->g, __atomic_add_fetch(c->clock, 1, __ATOMIC_SEQ_CST));
        }
    }
    return NULL;
}

/* Every allowed decision moves the key's TAT by T, and a TAT can be at most the capacity
 * ahead of the clock: a key is allowed at most burst + elapsed / T times, slots taken over
 * around it or not. */
static void test_takeover_under_threads(void **state)
{
    void *mem = fresh_block(8);
    profile_rl_table_t *t = profile_rl_table_init(mem, 8);
    profile_gcra_t g;
    apr_int64_t clock = T0;
    pthread_t th[THREADS];
    churn_t c[THREADS];
    int i, hot_allowed = 0;

    (void)state;
    profile_gcra_init(&g, 10000, 1, 5);        /* T = 100 µs */
    for (i = 0; i < THREADS; i++) {
        c[i] = (churn_t){ t, &g, &clock, i % 2, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, churn, &c[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        hot_allowed += c[i].allowed;
    }
    assert_true(hot_allowed <= 5 + (clock - T0) / 100 + 1);
    free(mem);
}

static void test_init_keeps_state(void **state)
{
    void *mem = fresh_block(2048);
    profile_rl_table_t *t = profile_rl_table_init(mem, 1024);
    profile_gcra_t g;

    (void)state;
    profile_gcra_init(&g, 1, 60, 0);
    assert_int_equal(decide(t, 42, &g, T0), 1);
    t = profile_rl_table_init(mem, 1024);      /* a graceful restart, same size */
    assert_int_equal(decide(t, 42, &g, T0 + SEC(1)), 0);
    t = profile_rl_table_init(mem, 2048);      /* another size: a new table */
    assert_int_equal(decide(t, 42, &g, T0 + SEC(1)), 1);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_hash),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_exact_under_threads_one_key),
        cmocka_unit_test(test_exact_under_threads_many_keys),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_takeover_of_expired_slots),
        cmocka_unit_test(test_full_under_threads),
        cmocka_unit_test(test_takeover_under_threads),
        cmocka_unit_test(test_init_keeps_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
