/* Scope and role names, parsing and coverage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>

#include "auth/principal.h"

static apr_pool_t *pool;

static void test_scope_names(void **state)
{
    static const char *names[] = { "profiles:read", "profiles:write", "sessions:read",
                                   "sessions:write", "comments:read", "cache:admin", "admin" };
    unsigned all = 0;
    apr_size_t i;
    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unsigned bit = profile_scope_bit(names[i]);
        assert_int_not_equal(bit, 0);
        assert_int_equal(bit & (bit - 1), 0);
        assert_string_equal(profile_scope_name(bit), names[i]);
        all |= bit;
    }
    assert_int_equal(all, PROFILE_SCOPE_ALL);
    assert_int_equal(profile_scope_bit("Admin"), 0);
    assert_int_equal(profile_scope_bit("profiles"), 0);
    assert_int_equal(profile_scope_bit(""), 0);
    assert_int_equal(profile_scope_bit(NULL), 0);
    assert_null(profile_scope_name(0));
    assert_null(profile_scope_name(PROFILE_SCOPE_PROFILES_READ | PROFILE_SCOPE_ADMIN));
    assert_null(profile_scope_name(0x80u));
}

static void test_scopes_parse(void **state)
{
    const char *unknown = "unset";
    (void)state;
    assert_int_equal(profile_scopes_parse(pool, "profiles:read comments:read", &unknown),
                     PROFILE_SCOPE_PROFILES_READ | PROFILE_SCOPE_COMMENTS_READ);
    assert_null(unknown);
    assert_int_equal(profile_scopes_parse(pool, " cache:admin,, admin ,", &unknown),
                     PROFILE_SCOPE_CACHE_ADMIN | PROFILE_SCOPE_ADMIN);
    assert_null(unknown);
    assert_int_equal(profile_scopes_parse(pool, "", &unknown), 0);
    assert_null(unknown);
    assert_int_equal(profile_scopes_parse(pool, NULL, &unknown), 0);
    assert_int_equal(profile_scopes_parse(pool, "sessions:read bogus other profiles:write",
                                          &unknown),
                     PROFILE_SCOPE_SESSIONS_READ | PROFILE_SCOPE_PROFILES_WRITE);
    assert_string_equal(unknown, "bogus");
    assert_int_equal(profile_scopes_parse(pool, "nope", NULL), 0);
}

static void test_scopes_names_list(void **state)
{
    const char **names;
    int n = -1;
    (void)state;
    names = profile_scopes_names(pool, PROFILE_SCOPE_ADMIN | PROFILE_SCOPE_PROFILES_READ, &n);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "profiles:read");
    assert_string_equal(names[1], "admin");
    assert_null(names[2]);
    names = profile_scopes_names(pool, 0, &n);
    assert_int_equal(n, 0);
    assert_null(names[0]);
    names = profile_scopes_names(pool, PROFILE_SCOPE_ALL, &n);
    assert_int_equal(n, 7);
    assert_string_equal(names[6], "admin");
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(profile_role_parse("admin"), PROFILE_ROLE_ADMIN);
    assert_int_equal(profile_role_parse("user"), PROFILE_ROLE_USER);
    assert_int_equal(profile_role_parse("readonly"), PROFILE_ROLE_READONLY);
    assert_int_equal(profile_role_parse("root"), PROFILE_ROLE_NONE);
    assert_int_equal(profile_role_parse(""), PROFILE_ROLE_NONE);
    assert_int_equal(profile_role_parse(NULL), PROFILE_ROLE_NONE);
    assert_string_equal(profile_role_name(PROFILE_ROLE_ADMIN), "admin");
    assert_string_equal(profile_role_name(PROFILE_ROLE_USER), "user");
    assert_string_equal(profile_role_name(PROFILE_ROLE_READONLY), "readonly");
    assert_null(profile_role_name(PROFILE_ROLE_NONE));

    assert_int_equal(profile_role_scopes(PROFILE_ROLE_ADMIN), PROFILE_SCOPE_ALL);
    assert_int_equal(profile_role_scopes(PROFILE_ROLE_USER),
                     profile_scopes_parse(pool, "profiles:read profiles:write sessions:read "
                                          "sessions:write comments:read", NULL));
    assert_int_equal(profile_role_scopes(PROFILE_ROLE_READONLY),
                     profile_scopes_parse(pool, "profiles:read sessions:read comments:read",
                                          NULL));
    assert_int_equal(profile_role_scopes(PROFILE_ROLE_NONE), 0);
}

static void test_cover(void **state)
{
    unsigned user = profile_role_scopes(PROFILE_ROLE_USER);
    (void)state;
    assert_true(profile_scopes_cover(user, PROFILE_SCOPE_PROFILES_READ));
    assert_true(profile_scopes_cover(user, PROFILE_SCOPE_PROFILES_READ
                                           | PROFILE_SCOPE_SESSIONS_WRITE));
    assert_true(profile_scopes_cover(user, 0));
    assert_false(profile_scopes_cover(user, PROFILE_SCOPE_CACHE_ADMIN));
    assert_false(profile_scopes_cover(user, PROFILE_SCOPE_ADMIN));
    assert_false(profile_scopes_cover(PROFILE_SCOPE_PROFILES_READ,
                                      PROFILE_SCOPE_PROFILES_READ | PROFILE_SCOPE_COMMENTS_READ));
    assert_true(profile_scopes_cover(PROFILE_SCOPE_ADMIN, PROFILE_SCOPE_CACHE_ADMIN));
    assert_true(profile_scopes_cover(PROFILE_SCOPE_ADMIN, PROFILE_SCOPE_ALL));
    assert_false(profile_scopes_cover(0, PROFILE_SCOPE_PROFILES_READ));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_names),
        cmocka_unit_test(test_scopes_parse),
        cmocka_unit_test(test_scopes_names_list),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_cover),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("scopes", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
