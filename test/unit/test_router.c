/* Route matching: prefixes, captures, 404 versus 405 and the Allow header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <httpd.h>

#include "routes/router.h"

static apr_pool_t *pool;

static const profile_route_t routes[] = {
    { M_GET, "/healthcheck", NULL, PROFILE_AUTH_PUBLIC, 0 },
    { M_GET, "/profile/{username}", NULL, PROFILE_AUTH_PRINCIPAL, 0 },
    { M_POST, "/sessions/{id}/comments", NULL, PROFILE_AUTH_PRINCIPAL, 0 },
    { M_GET, "/sessions/{id}/comments", NULL, PROFILE_AUTH_PRINCIPAL, 0 },
};
#define N ((int)(sizeof(routes) / sizeof(routes[0])))

static void test_prefix(void **state)
{
    (void)state;
    assert_string_equal(profile_route_path("/api/v1/healthcheck"), "/healthcheck");
    assert_string_equal(profile_route_path("/healthcheck"), "/healthcheck");
    assert_string_equal(profile_route_path("/api/v1"), "/");
    assert_string_equal(profile_route_path("/api/v10/healthcheck"), "/api/v10/healthcheck");
    assert_null(profile_route_path("healthcheck"));
}

static void test_static_and_capture(void **state)
{
    profile_match_t m;
    (void)state;
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/healthcheck", &m),
                     PROFILE_MATCH_FOUND);
    assert_int_equal(m.route_index, 0);

    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/profile/someone", &m),
                     PROFILE_MATCH_FOUND);
    assert_int_equal(m.route_index, 1);
    assert_string_equal(apr_table_get(m.params, "username"), "someone");

    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/sessions/abc/comments", &m),
                     PROFILE_MATCH_FOUND);
    assert_int_equal(m.route_index, 3);
    assert_string_equal(apr_table_get(m.params, "id"), "abc");
}

static void test_not_found(void **state)
{
    profile_match_t m;
    char longseg[PROFILE_MAX_PARAM_LEN + 20];
    (void)state;
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/nope", &m), PROFILE_MATCH_NO_PATH);
    assert_int_equal(m.route_index, N);
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/healthcheck/", &m), PROFILE_MATCH_NO_PATH);
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/profile/", &m), PROFILE_MATCH_NO_PATH);
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/profile/a/b", &m), PROFILE_MATCH_NO_PATH);
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "/healthcheckx", &m), PROFILE_MATCH_NO_PATH);
    assert_int_equal(profile_route_match(pool, routes, N, M_GET, "", &m), PROFILE_MATCH_NO_PATH);
    memset(longseg, 'a', sizeof(longseg) - 1);
    longseg[sizeof(longseg) - 1] = '\0';
    assert_int_equal(profile_route_match(pool, routes, N, M_GET,
                                         apr_pstrcat(pool, "/profile/", longseg, NULL), &m),
                     PROFILE_MATCH_NO_PATH);
}

static void test_method_not_allowed(void **state)
{
    profile_match_t m;
    (void)state;
    assert_int_equal(profile_route_match(pool, routes, N, M_DELETE, "/healthcheck", &m),
                     PROFILE_MATCH_BAD_METHOD);
    assert_string_equal(profile_allow_header(pool, m.allowed), "GET, HEAD, OPTIONS");
    assert_int_equal(profile_route_match(pool, routes, N, M_PUT, "/sessions/x/comments", &m),
                     PROFILE_MATCH_BAD_METHOD);
    assert_string_equal(profile_allow_header(pool, m.allowed), "GET, HEAD, POST, OPTIONS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_static_and_capture),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("router", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
