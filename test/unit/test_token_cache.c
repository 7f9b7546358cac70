/* The verified-token cache: hits only for the same token under the same configuration,
 * never past the token's exp, bounded in size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "auth/token_cache.h"

static apr_pool_t *pool;
static profile_jwt_config_t cfg_a, cfg_b;
static const apr_time_t NOW = APR_INT64_C(1800000000000000);

static profile_jwt_claims_t claims(const char *jti, apr_time_t exp)
{
    profile_jwt_claims_t c = { "42", "alice", "user", "profiles:read", jti, "sid1", 0, 0, exp };
    return c;
}

static void test_hit_copies_claims(void **state)
{
    profile_jwt_claims_t in = claims("jti-1", NOW + apr_time_from_sec(60)), out;
    (void)state;
    profile_token_cache_put(&cfg_a, "token.one.sig", &in, NOW);
    assert_true(profile_token_cache_get(pool, &cfg_a, "token.one.sig", NOW, &out));
    assert_string_equal(out.sub, "42");
    assert_string_equal(out.username, "alice");
    assert_string_equal(out.jti, "jti-1");
    assert_string_equal(out.sid, "sid1");
    assert_true(out.exp == in.exp);
}

static void test_other_token_or_config_misses(void **state)
{
    profile_jwt_claims_t in = claims("jti-2", NOW + apr_time_from_sec(60)), out;
    (void)state;
    profile_token_cache_put(&cfg_a, "token.two.sig", &in, NOW);
    assert_false(profile_token_cache_get(pool, &cfg_b, "token.two.sig", NOW, &out));
    assert_false(profile_token_cache_get(pool, &cfg_a, "token.two.sih", NOW, &out));
    assert_false(profile_token_cache_get(pool, &cfg_a, "token.two.si", NOW, &out));
}

static void test_expired_tokens_miss(void **state)
{
    profile_jwt_claims_t in = claims("jti-3", NOW + apr_time_from_sec(5)), out;
    (void)state;
    profile_token_cache_put(&cfg_a, "token.three.sig", &in, NOW);
    assert_true(profile_token_cache_get(pool, &cfg_a, "token.three.sig", NOW, &out));
    assert_false(profile_token_cache_get(pool, &cfg_a, "token.three.sig",
                                         NOW + apr_time_from_sec(5), &out));
    in = claims("jti-4", NOW - 1);
    profile_token_cache_put(&cfg_a, "token.four.sig", &in, NOW);
    assert_false(profile_token_cache_get(pool, &cfg_a, "token.four.sig", NOW, &out));
}

static void test_long_tokens_are_not_kept(void **state)
{
    char long_token[PROFILE_TOKEN_CACHE_MAX_TOKEN + 10];
    profile_jwt_claims_t in = claims("jti-5", NOW + apr_time_from_sec(60)), out;
    (void)state;
    memset(long_token, 'x', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    profile_token_cache_put(&cfg_a, long_token, &in, NOW);
    assert_false(profile_token_cache_get(pool, &cfg_a, long_token, NOW, &out));
}

static void test_stays_bounded(void **state)
{
    profile_jwt_claims_t in = claims("jti-n", NOW + apr_time_from_sec(60)), out;
    int i, kept = 0;
    (void)state;
    for (i = 0; i < PROFILE_TOKEN_CACHE_MAX + 100; i++)
        profile_token_cache_put(&cfg_a, apr_psprintf(pool, "bulk.%d.sig", i), &in, NOW);
    for (i = 0; i < PROFILE_TOKEN_CACHE_MAX + 100; i++)
        kept += profile_token_cache_get(pool, &cfg_a, apr_psprintf(pool, "bulk.%d.sig", i), NOW,
                                        &out);
    assert_true(kept > 0 && kept <= PROFILE_TOKEN_CACHE_MAX);
    /* The newest entry always survives. */
    assert_true(profile_token_cache_get(pool, &cfg_a,
                                        apr_psprintf(pool, "bulk.%d.sig",
                                                     PROFILE_TOKEN_CACHE_MAX + 99),
                                        NOW, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_copies_claims),
        cmocka_unit_test(test_other_token_or_config_misses),
        cmocka_unit_test(test_expired_tokens_miss),
        cmocka_unit_test(test_long_tokens_are_not_kept),
        cmocka_unit_test(test_stays_bounded),
    };
    apr_pool_t *cache_pool;
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    apr_pool_create(&cache_pool, NULL);
    profile_token_cache_init(cache_pool);
    rc = cmocka_run_group_tests_name("token_cache", tests, NULL, NULL);
    apr_pool_destroy(cache_pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
