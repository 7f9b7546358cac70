/* RateLimit-Policy, RateLimit and X-RateLimit-* values for a request's decisions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>

#include "ratelimit/rl_headers.h"

static apr_pool_t *pool;

static void test_ceil(void **state)
{
    (void)state;
    assert_int_equal(profile_rl_ceil_s(0), 0);
    assert_int_equal(profile_rl_ceil_s(-5), 0);
    assert_int_equal(profile_rl_ceil_s(1), 1);
    assert_int_equal(profile_rl_ceil_s(1000000), 1);
    assert_int_equal(profile_rl_ceil_s(1000001), 2);
    assert_int_equal(profile_rl_ceil_s(59400000), 60);
}

static void test_most_restrictive(void **state)
{
    profile_rl_decision_t d[4] = {
        { "a", 100, 60, 50, 30000000 },
        { "b", 5, 60, 2, 40000000 },
        { "c", 3, 60, 2, 45000000 },
        { "d", 3, 60, 2, 45000000 },
    };
    (void)state;
    assert_int_equal(profile_rl_most_restrictive(d, 1), 0);
    assert_int_equal(profile_rl_most_restrictive(d, 2), 1);
    /* ties: the longest reset, then the first */
    assert_int_equal(profile_rl_most_restrictive(d, 4), 2);
}

static void test_one_policy(void **state)
{
    profile_rl_decision_t d = { "default", 100, 60, 99, 600001 };
    profile_rl_headers_t h;
    (void)state;
    profile_rl_format_headers(pool, &d, 1, &h);
    assert_string_equal(h.policy, "\"default\";q=100;w=60");
    assert_string_equal(h.ratelimit, "\"default\";r=99;t=1");
    assert_string_equal(h.limit, "100");
    assert_string_equal(h.remaining, "99");
    assert_string_equal(h.reset, "1");
}

static void test_several_policies(void **state)
{
    profile_rl_decision_t d[2] = {
        { "default", 100, 60, 97, 1800000 },
        { "login-ip", 5, 60, 0, 60000000 },
    };
    profile_rl_headers_t h;
    (void)state;
    profile_rl_format_headers(pool, d, 2, &h);
    assert_string_equal(h.policy, "\"default\";q=100;w=60, \"login-ip\";q=5;w=60");
    assert_string_equal(h.ratelimit, "\"login-ip\";r=0;t=60");
    assert_string_equal(h.limit, "5");
    assert_string_equal(h.remaining, "0");
    assert_string_equal(h.reset, "60");
}

static void test_long_names(void **state)
{
    profile_rl_decision_t d[3] = {
        { "abcdefghijklmnopqrstuvwxyz012345", 1000000, 86400, 1000000, 86400000000LL },
        { "abcdefghijklmnopqrstuvwxyz012346", 1000000, 86400, 999999, 86400000000LL },
        { "abcdefghijklmnopqrstuvwxyz012347", 1000000, 86400, 999998, 86400000000LL },
    };
    profile_rl_headers_t h;
    (void)state;
    profile_rl_format_headers(pool, d, 3, &h);
    assert_string_equal(h.policy, "\"abcdefghijklmnopqrstuvwxyz012345\";q=1000000;w=86400, "
                                  "\"abcdefghijklmnopqrstuvwxyz012346\";q=1000000;w=86400, "
                                  "\"abcdefghijklmnopqrstuvwxyz012347\";q=1000000;w=86400");
    assert_string_equal(h.ratelimit, "\"abcdefghijklmnopqrstuvwxyz012347\";r=999998;t=86400");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceil),
        cmocka_unit_test(test_most_restrictive),
        cmocka_unit_test(test_one_policy),
        cmocka_unit_test(test_several_policies),
        cmocka_unit_test(test_long_names),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
