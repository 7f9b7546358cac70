/* The rate-limit analytics layout, exercised on a plain heap block. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ratelimit/rl_stats_block.h"

#define T0 (apr_time_from_sec(1800000000))
#define MINUTE(n) (T0 + apr_time_from_sec(60) * (n))
#define THREADS 4
#define PER_THREAD 20000

typedef struct {
    void *mem;
    profile_rl_stats_block_t *b;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem = malloc(profile_rl_stats_block_size());
    assert_non_null(f->mem);
    memset(f->mem, 0xa5, profile_rl_stats_block_size());  /* as in fresh shared memory */
    f->b = profile_rl_stats_block_init(f->mem);
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

static json_int_t policy_count(json_t *j, const char *policy, const char *what)
{
    json_t *v = json_object_get(json_object_get(json_object_get(j, "policies"), policy), what);

    assert_non_null(v);
    return json_integer_value(v);
}

static void test_empty(void **state)
{
    fixture_t *f = *state;
    profile_rl_stats_top_t top[4];
    json_t *j = profile_rl_stats_block_json(f->b);

    assert_int_equal(json_object_size(json_object_get(j, "policies")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "redis_fallbacks")), 0);
    json_decref(j);
    assert_int_equal(profile_rl_stats_block_top(f->b, T0, top, 4), 0);
}

static void test_policy_counts_and_restart(void **state)
{
    fixture_t *f = *state;
    json_t *j;
    int i;

    for (i = 0; i < 7; i++)
        profile_rl_stats_block_count(f->b, "default", 0, "key:1", T0);
    profile_rl_stats_block_count(f->b, "default", 1, "key:1", T0);
    profile_rl_stats_block_count(f->b, "login-ip", 1, "ip:10.0.0.1", T0);
    profile_rl_stats_block_fallback(f->b);
    profile_rl_stats_block_fallback(f->b);
    /* A graceful restart formats nothing. */
    assert_ptr_equal(profile_rl_stats_block_init(f->mem), f->b);
    j = profile_rl_stats_block_json(f->b);
    assert_int_equal(policy_count(j, "default", "allowed"), 7);
    assert_int_equal(policy_count(j, "default", "limited"), 1);
    assert_int_equal(policy_count(j, "login-ip", "allowed"), 0);
    assert_int_equal(policy_count(j, "login-ip", "limited"), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "redis_fallbacks")), 2);
    json_decref(j);
}

static void test_policy_capacity(void **state)
{
    fixture_t *f = *state;
    char name[16];
    json_t *j;
    int i;

    for (i = 0; i < PROFILE_RL_STATS_POLICIES + 5; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        profile_rl_stats_block_count(f->b, name, 0, "x", T0);
    }
    j = profile_rl_stats_block_json(f->b);
    assert_int_equal(json_object_size(json_object_get(j, "policies")), PROFILE_RL_STATS_POLICIES);
    json_decref(j);
}

static void test_long_names_are_cut(void **state)
{
    fixture_t *f = *state;
    char policy[64], who[200];
    profile_rl_stats_top_t top[1];
    json_t *j;

    memset(policy, 'p', sizeof(policy) - 1);
    policy[sizeof(policy) - 1] = '\0';
    memset(who, 'w', sizeof(who) - 1);
    who[sizeof(who) - 1] = '\0';
    profile_rl_stats_block_count(f->b, policy, 1, who, T0);
    j = profile_rl_stats_block_json(f->b);
    policy[PROFILE_RL_STATS_POLICY_NAME] = '\0';
    assert_int_equal(policy_count(j, policy, "limited"), 1);
    json_decref(j);
    assert_int_equal(profile_rl_stats_block_top(f->b, T0, top, 1), 1);
    assert_int_equal(strlen(top[0].principal), PROFILE_RL_STATS_WHO_MAX);
}

static void test_top_over_the_last_hour(void **state)
{
    fixture_t *f = *state;
    profile_rl_stats_top_t top[8];
    int i;

    for (i = 0; i < 3; i++)
        profile_rl_stats_block_count(f->b, "default", 1, "user:1", MINUTE(0));
    for (i = 0; i < 5; i++)
        profile_rl_stats_block_count(f->b, "default", 1, "user:2", MINUTE(10));
    profile_rl_stats_block_count(f->b, "default", 1, "user:1", MINUTE(30));
    profile_rl_stats_block_count(f->b, "default", 0, "user:3", MINUTE(30));

    assert_int_equal(profile_rl_stats_block_top(f->b, MINUTE(30), top, 8), 2);
    assert_string_equal(top[0].principal, "user:2");
    assert_int_equal(top[0].limited, 5);
    assert_int_equal(top[0].last_limited_at, MINUTE(10));
    assert_string_equal(top[1].principal, "user:1");
    assert_int_equal(top[1].limited, 4);
    assert_int_equal(top[1].last_limited_at, MINUTE(30));
    assert_int_equal(profile_rl_stats_block_top(f->b, MINUTE(30), top, 1), 1);

    /* An hour after minute 0, its 3 limits of user:1 have left the window. */
    assert_int_equal(profile_rl_stats_block_top(f->b, MINUTE(60), top, 8), 2);
    assert_string_equal(top[0].principal, "user:2");
    assert_int_equal(top[1].limited, 1);
    /* Minute 70: only user:1's limit of minute 30 is left. */
    assert_int_equal(profile_rl_stats_block_top(f->b, MINUTE(70), top, 8), 1);
    assert_string_equal(top[0].principal, "user:1");
    /* The ring slot of minute 0 is reused by minute 60 after a reset. */
    profile_rl_stats_block_count(f->b, "default", 1, "user:1", MINUTE(60));
    assert_int_equal(profile_rl_stats_block_top(f->b, MINUTE(60), top, 8), 2);
    assert_int_equal(top[1].limited, 2);
}

static void test_full_table_replaces_the_least_limited(void **state)
{
    fixture_t *f = *state;
    profile_rl_stats_top_t top[PROFILE_RL_STATS_PRINCIPALS];
    char who[32];
    int i, n, found = 0;

    for (i = 0; i < PROFILE_RL_STATS_PRINCIPALS; i++) {
        snprintf(who, sizeof(who), "ip:%d", i);
        profile_rl_stats_block_count(f->b, "p", 1, who, MINUTE(0));
        if (i != 17)
            profile_rl_stats_block_count(f->b, "p", 1, who, MINUTE(0));
    }
    profile_rl_stats_block_count(f->b, "p", 1, "ip:new", MINUTE(1));
    n = profile_rl_stats_block_top(f->b, MINUTE(1), top, PROFILE_RL_STATS_PRINCIPALS);
    assert_int_equal(n, PROFILE_RL_STATS_PRINCIPALS);
    for (i = 0; i < n; i++) {
        assert_string_not_equal(top[i].principal, "ip:17");
        found += strcmp(top[i].principal, "ip:new") == 0;
    }
    assert_int_equal(found, 1);
}

static void *hammer(void *arg)
{
    profile_rl_stats_block_t *b = arg;
    char who[16];
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        snprintf(who, sizeof(who), "ip:%d", i % 300);
        profile_rl_stats_block_count(b, (i & 1) ? "odd" : "even", i % 3 == 0, who, T0);
    }
    return NULL;
}

static void test_concurrent_counts_are_exact(void **state)
{
    fixture_t *f = *state;
    pthread_t t[THREADS];
    profile_rl_stats_top_t top[PROFILE_RL_STATS_PRINCIPALS];
    apr_uint64_t limited = 0;
    json_t *j;
    int i, n;

    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, f->b), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    j = profile_rl_stats_block_json(f->b);
    assert_int_equal(policy_count(j, "odd", "allowed") + policy_count(j, "odd", "limited") +
                         policy_count(j, "even", "allowed") + policy_count(j, "even", "limited"),
                     THREADS * PER_THREAD);
    assert_int_equal(policy_count(j, "odd", "limited") + policy_count(j, "even", "limited"),
                     THREADS * ((PER_THREAD + 2) / 3));
    json_decref(j);
    n = profile_rl_stats_block_top(f->b, T0, top, PROFILE_RL_STATS_PRINCIPALS);
    assert_true(n <= PROFILE_RL_STATS_PRINCIPALS);
    for (i = 0; i < n; i++)
        limited += top[i].limited;
    /* 300 principals share 256 entries: evictions drop counts, never add any. */
    assert_true(limited <= (apr_uint64_t)THREADS * ((PER_THREAD + 2) / 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_counts_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_names_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_over_the_last_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table_replaces_the_least_limited, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_counts_are_exact, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
