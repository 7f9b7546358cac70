/* The text form of cache entries and the ETag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "cache/cache_entry.h"

static apr_pool_t *pool;

static profile_cache_entry_t sample(const char *body, int status, int tier)
{
    profile_cache_entry_t e;

    e.status = status;
    e.tier = tier;
    e.fetched_at = APR_INT64_C(1795990800000000);
    e.expires_at = e.fetched_at + APR_INT64_C(300000000);
    e.stale_until = e.expires_at + APR_INT64_C(86400000000);
    e.body = body;
    e.body_len = strlen(body);
    e.etag = profile_cache_etag(body, e.body_len);
    return e;
}

static void assert_same(const profile_cache_entry_t *a, const profile_cache_entry_t *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->tier, b->tier);
    assert_int_equal(a->fetched_at, b->fetched_at);
    assert_int_equal(a->expires_at, b->expires_at);
    assert_int_equal(a->stale_until, b->stale_until);
    assert_int_equal(a->etag, b->etag);
    assert_int_equal(a->body_len, b->body_len);
    assert_memory_equal(a->body, b->body, a->body_len);
}

static void test_round_trip(void **state)
{
    const char *bodies[] = { "{\"username\":\"alice\",\"bio\":\"line\\nbreak\"", "", "\n\n" };
    profile_cache_entry_t in, out;
    apr_size_t len, i;
    const char *text;

    (void)state;
    for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        in = sample(bodies[i], i == 1 ? 404 : 200, i == 1 ? -1 : (int)i);
        text = profile_cache_entry_encode(pool, &in, &len);
        assert_int_equal(strlen(text), len);
        assert_int_equal(profile_cache_entry_decode(pool, text, len, &out), 0);
        assert_same(&in, &out);
        assert_int_equal(out.body[out.body_len], '\0');
    }
    in = sample("x", 200, 3);
    text = profile_cache_entry_encode(pool, &in, &len);
    assert_string_equal(text, apr_psprintf(pool, "v1 200 3 1795990800000000 1795991100000000 "
                                           "1796077500000000 %" APR_UINT64_T_HEX_FMT "\nx",
                                           in.etag));
}

static void test_largest_body(void **state)
{
    char *body = apr_palloc(pool, PROFILE_CACHE_BODY_MAX + 2);
    profile_cache_entry_t in, out;
    const char *text;
    apr_size_t len;

    (void)state;
    memset(body, 'b', PROFILE_CACHE_BODY_MAX);
    body[PROFILE_CACHE_BODY_MAX] = '\0';
    in = sample(body, 200, 1);
    text = profile_cache_entry_encode(pool, &in, &len);
    assert_int_equal(profile_cache_entry_decode(pool, text, len, &out), 0);
    assert_same(&in, &out);
    /* One byte more is not something encode of a cacheable entry makes. */
    body[PROFILE_CACHE_BODY_MAX] = 'b';
    body[PROFILE_CACHE_BODY_MAX + 1] = '\0';
    in = sample(body, 200, 1);
    text = profile_cache_entry_encode(pool, &in, &len);
    assert_int_equal(profile_cache_entry_decode(pool, text, len, &out), -1);
}

static void test_garbage_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "v1",
        "v1 ",
        "v2 200 1 1 2 3 ab\nbody",
        "v1 200 1 1 2 3 ab",              /* no newline */
        "v1 200 1 1 2 3\nbody",           /* no etag */
        "v1 200 1 1 2 3 0\nbody",         /* etag 0 */
        "v1 200 1 1 2 3 xyz\nbody",
        "v1 200 1 1 2 3 11111111111111111\nbody",   /* 17 hex digits */
        "v1 99 1 1 2 3 ab\nbody",
        "v1 600 1 1 2 3 ab\nbody",
        "v1 200 -2 1 2 3 ab\nbody",
        "v1 200 4 1 2 3 ab\nbody",
        "v1 200 1 -1 2 3 ab\nbody",
        "v1 200 1 1 2 99999999999999999999 ab\nbody",
        "v1 200 1 1 2 9223372036854775808 ab\nbody",
        "v1 200 1 1  2 3 ab\nbody",
        "v1 200 1 1 2 3 ab body",
        "v1 +200 1 1 2 3 ab\nbody",
        "v1 200 1 1 2 3 -ab\nbody",
        "GET / HTTP/1.1\r\n\r\n",
    };
    profile_cache_entry_t out;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(profile_cache_entry_decode(pool, bad[i], strlen(bad[i]), &out), -1);
    /* Lengths are honoured: the same text cut anywhere before the newline is refused. */
    for (i = 0; i < strlen("v1 200 1 1 2 3 ab\n"); i++)
        assert_int_equal(profile_cache_entry_decode(pool, "v1 200 1 1 2 3 ab\nbody", i, &out),
                         -1);
    assert_int_equal(profile_cache_entry_decode(pool, "v1 200 1 1 2 9223372036854775807 AB\n",
                                                36, &out), 0);
    assert_int_equal(out.stale_until, APR_INT64_MAX);
    assert_int_equal(out.etag, 0xab);
    assert_int_equal(out.body_len, 0);
}

static void test_etag(void **state)
{
    (void)state;
    assert_int_not_equal(profile_cache_etag("", 0), 0);
    assert_int_equal(profile_cache_etag("abc", 3), profile_cache_etag("abcd", 3));
    assert_int_not_equal(profile_cache_etag("abc", 3), profile_cache_etag("abd", 3));
    /* FNV-1a 64 of "a" (a published test vector). */
    assert_int_equal(profile_cache_etag("a", 1), APR_UINT64_C(0xaf63dc4c8601ec8c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_largest_body),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_etag),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
