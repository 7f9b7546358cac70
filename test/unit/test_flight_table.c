/* The shared-memory single-flight lease table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cache/flight_table.h"

#define MS(n) ((apr_time_t)(n) * 1000)
#define T0 ((apr_time_t)1800000000 * APR_USEC_PER_SEC)
#define SLOTS 16384                 /* the table's slot count (flight_table.c) */
#define THREADS 4

static profile_flight_table_t *fresh_table(void **mem)
{
    *mem = malloc(profile_flight_table_size());
    assert_non_null(*mem);
    memset(*mem, 0xa5, profile_flight_table_size());
    return profile_flight_table_init(*mem);
}

static void test_acquire_release(void **state)
{
    void *mem;
    profile_flight_table_t *t = fresh_table(&mem);
    apr_uint64_t a, b, other;

    (void)state;
    assert_int_equal(profile_flight_table_acquire(t, 42, T0, 1000, &a), 1);
    assert_int_equal(profile_flight_table_acquire(t, 42, T0 + MS(999), 1000, &b), 0);
    assert_int_equal(profile_flight_table_acquire(t, 43, T0, 1000, &other), 1);
    profile_flight_table_release(t, 42, a);
    assert_int_equal(profile_flight_table_acquire(t, 42, T0 + MS(1), 1000, &b), 1);
    assert_int_not_equal(a, b);
    profile_flight_table_release(t, 42, a);          /* an old token changes nothing */
    assert_int_equal(profile_flight_table_acquire(t, 42, T0 + MS(2), 1000, &a), 0);
    profile_flight_table_release(t, 42, b);
    profile_flight_table_release(t, 43, other);
    assert_int_equal(profile_flight_table_acquire(t, 43, T0 + MS(3), 1000, &other), 1);
    free(mem);
}

static void test_expired_lease_taken_over(void **state)
{
    void *mem;
    profile_flight_table_t *t = fresh_table(&mem);
    apr_uint64_t dead, next, again;

    (void)state;
    assert_int_equal(profile_flight_table_acquire(t, 7, T0, 500, &dead), 1);
    assert_int_equal(profile_flight_table_acquire(t, 7, T0 + MS(499), 500, &next), 0);
    assert_int_equal(profile_flight_table_acquire(t, 7, T0 + MS(500), 500, &next), 1);
    /* The first holder comes back late: its release must not free the new lease. */
    profile_flight_table_release(t, 7, dead);
    assert_int_equal(profile_flight_table_acquire(t, 7, T0 + MS(600), 500, &again), 0);
    profile_flight_table_release(t, 7, next);
    assert_int_equal(profile_flight_table_acquire(t, 7, T0 + MS(600), 500, &again), 1);
    free(mem);
}

/* Another name in the same slot: untracked while its lease lives, fine after. */
static void test_slot_shared_by_two_names(void **state)
{
    void *mem;
    profile_flight_table_t *t = fresh_table(&mem);
    apr_uint64_t first = 5, second = 5 + SLOTS + (APR_UINT64_C(1) << 63), a, b;

    (void)state;
    assert_int_equal(profile_flight_table_acquire(t, first, T0, 1000, &a), 1);
    assert_int_equal(profile_flight_table_acquire(t, second, T0, 1000, &b), -1);
    assert_int_equal(profile_flight_table_acquire(t, first, T0, 1000, &b), 0);
    assert_int_equal(profile_flight_table_acquire(t, second, T0 + MS(1000), 1000, &b), 1);
    assert_int_equal(profile_flight_table_acquire(t, first, T0 + MS(1001), 1000, &a), -1);
    free(mem);
}

static void test_init_keeps_leases(void **state)
{
    void *mem;
    profile_flight_table_t *t = fresh_table(&mem);
    apr_uint64_t a;

    (void)state;
    assert_int_equal(profile_flight_table_acquire(t, 9, T0, 1000, &a), 1);
    t = profile_flight_table_init(mem);
    assert_int_equal(profile_flight_table_acquire(t, 9, T0, 1000, &a), 0);
    free(mem);
}

typedef struct {
    profile_flight_table_t *t;
    apr_uint64_t hash;
    int won;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    apr_uint64_t token;
    int i;

    for (i = 0; i < 2000; i++)
        r->won += profile_flight_table_acquire(r->t, r->hash, T0, 60000, &token) == 1;
    return NULL;
}

/* Threads racing for the same names: each name has exactly one winner. */
static void test_one_winner_under_threads(void **state)
{
    void *mem;
    profile_flight_table_t *t = fresh_table(&mem);
    pthread_t th[THREADS];
    racer_t r[THREADS];
    int round, i, won;

    (void)state;
    for (round = 0; round < 20; round++) {
        for (i = 0; i < THREADS; i++) {
            r[i] = (racer_t){ t, (apr_uint64_t)round * 7919 + 1, 0 };
            assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        for (won = 0, i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            won += r[i].won;
        }
        assert_int_equal(won, 1);
    }
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_release),
        cmocka_unit_test(test_expired_lease_taken_over),
        cmocka_unit_test(test_slot_shared_by_two_names),
        cmocka_unit_test(test_init_keeps_leases),
        cmocka_unit_test(test_one_winner_under_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
