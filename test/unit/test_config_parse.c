/* Directive value parsers: accepted ranges, suffixes and URL shapes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>

#include "config/parse.h"

static apr_pool_t *pool;

static void test_int_range(void **state)
{
    long v;
    (void)state;
    assert_null(profile_parse_int(pool, "0", 0, 10, &v));
    assert_int_equal(v, 0);
    assert_null(profile_parse_int(pool, "10", 0, 10, &v));
    assert_int_equal(v, 10);
    assert_non_null(profile_parse_int(pool, "11", 0, 10, &v));
    assert_non_null(profile_parse_int(pool, "-1", 0, 10, &v));
    assert_non_null(profile_parse_int(pool, "5x", 0, 10, &v));
    assert_non_null(profile_parse_int(pool, "", 0, 10, &v));
    assert_non_null(profile_parse_int(pool, "99999999999999999999", 0, 10, &v));
    assert_non_null(strstr(profile_parse_int(pool, "abc", 1, 300, &v), "between 1 and 300, got 'abc'"));
}

static void test_size_suffixes(void **state)
{
    apr_off_t v;
    (void)state;
    assert_null(profile_parse_size(pool, "512", 1, 1 << 24, &v));
    assert_int_equal(v, 512);
    assert_null(profile_parse_size(pool, "64K", 1, 1 << 24, &v));
    assert_int_equal(v, 65536);
    assert_null(profile_parse_size(pool, "2m", 1, 1 << 24, &v));
    assert_int_equal(v, 2 * 1024 * 1024);
    assert_non_null(profile_parse_size(pool, "17M", 1, 16 << 20, &v));
    assert_non_null(profile_parse_size(pool, "0", 1, 16 << 20, &v));
    assert_non_null(profile_parse_size(pool, "K", 1, 16 << 20, &v));
    assert_non_null(profile_parse_size(pool, "1.5M", 1, 16 << 20, &v));
    assert_non_null(profile_parse_size(pool, "", 1, 16 << 20, &v));
    assert_non_null(profile_parse_size(pool, "9999999999999999G", 1, 16 << 20, &v));
}

static void test_redis_urls(void **state)
{
    profile_redis_target_t t;
    (void)state;
    assert_null(profile_parse_redis_url(pool, "redis://127.0.0.1:6380/2", &t));
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    assert_null(t.password);

    assert_null(profile_parse_redis_url(pool, "redis://:s3cret@cache.local", &t));
    assert_string_equal(t.host, "cache.local");
    assert_int_equal(t.port, 6379);
    assert_string_equal(t.password, "s3cret");

    assert_null(profile_parse_redis_url(pool, "redis://[::1]:7000", &t));
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 7000);

    assert_null(profile_parse_redis_url(pool, "unix:///run/redis.sock?db=3", &t));
    assert_string_equal(t.socket_path, "/run/redis.sock");
    assert_null(t.host);
    assert_int_equal(t.db, 3);

    assert_non_null(profile_parse_redis_url(pool, "http://127.0.0.1:6379", &t));
    assert_non_null(profile_parse_redis_url(pool, "redis://127.0.0.1:0", &t));
    assert_non_null(profile_parse_redis_url(pool, "redis://127.0.0.1:70000", &t));
    assert_non_null(profile_parse_redis_url(pool, "redis://127.0.0.1/16", &t));
    assert_non_null(profile_parse_redis_url(pool, "redis://", &t));
    assert_non_null(profile_parse_redis_url(pool, "unix://relative.sock", &t));
}

static void test_redis_errors_hide_password(void **state)
{
    profile_redis_target_t t;
    const char *err;
    (void)state;
    err = profile_parse_redis_url(pool, "redis://:TopSecret99@127.0.0.1:notaport/0", &t);
    assert_non_null(err);
    assert_null(strstr(err, "TopSecret99"));
    assert_non_null(strstr(err, "redis://***@127.0.0.1:notaport/0"));
    err = profile_parse_redis_url(pool, "rediss://u:TopSecret99@host", &t);
    assert_non_null(err);
    assert_null(strstr(err, "TopSecret99"));
}

static void test_http_urls(void **state)
{
    const char *url;
    (void)state;
    assert_null(profile_parse_http_url(pool, "http://127.0.0.1:8765/", &url));
    assert_string_equal(url, "http://127.0.0.1:8765");
    assert_null(profile_parse_http_url(pool, "http://sidecar.local/live", &url));
    assert_string_equal(url, "http://sidecar.local/live");
    assert_non_null(profile_parse_http_url(pool, "https://x", &url));
    assert_non_null(profile_parse_http_url(pool, "http://", &url));
    assert_non_null(profile_parse_http_url(pool, "http://x:99999", &url));
    assert_non_null(profile_parse_http_url(pool, "http://x/?a=1", &url));
    assert_non_null(profile_parse_http_url(pool, "localhost:80", &url));
}

static void test_web_urls(void **state)
{
    const char *url;
    (void)state;
    assert_null(profile_parse_web_url(pool, "https://www.tiktok.com/", &url));
    assert_string_equal(url, "https://www.tiktok.com");
    assert_null(profile_parse_web_url(pool, "http://127.0.0.1:8080/base", &url));
    assert_string_equal(url, "http://127.0.0.1:8080/base");
    assert_non_null(profile_parse_web_url(pool, "ftp://x", &url));
    assert_non_null(profile_parse_web_url(pool, "https://", &url));
    assert_non_null(profile_parse_web_url(pool, "https://x/?q", &url));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_redis_urls),
        cmocka_unit_test(test_redis_errors_hide_password),
        cmocka_unit_test(test_http_urls),
        cmocka_unit_test(test_web_urls),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("config_parse", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
