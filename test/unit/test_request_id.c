/* Request ids: which incoming ids are kept, and the shape of generated ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "util/request_id.h"

static apr_pool_t *pool;

static void test_valid_ids(void **state)
{
    char max[PROFILE_REQUEST_ID_MAX + 2];
    (void)state;
    assert_true(profile_request_id_valid("abc-123"));
    assert_true(profile_request_id_valid("trace:span.1_2"));
    memset(max, 'a', sizeof(max));
    max[PROFILE_REQUEST_ID_MAX] = '\0';
    assert_true(profile_request_id_valid(max));
    max[PROFILE_REQUEST_ID_MAX] = 'a';
    max[PROFILE_REQUEST_ID_MAX + 1] = '\0';
    assert_false(profile_request_id_valid(max));
    assert_false(profile_request_id_valid(""));
    assert_false(profile_request_id_valid(NULL));
    assert_false(profile_request_id_valid("has space"));
    assert_false(profile_request_id_valid("new\nline"));
    assert_false(profile_request_id_valid("quote\"d"));
    assert_false(profile_request_id_valid("<script>"));
}

static void test_generated_ids(void **state)
{
    const char *a = profile_request_id_generate(pool), *b = profile_request_id_generate(pool);
    apr_size_t i;
    (void)state;
    assert_int_equal(strlen(a), 32);
    for (i = 0; i < 32; i++)
        assert_true(apr_isxdigit(a[i]) && !apr_isupper(a[i]));
    assert_string_not_equal(a, b);
    assert_true(profile_request_id_valid(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_ids),
        cmocka_unit_test(test_generated_ids),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("request_id", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
