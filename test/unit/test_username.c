/* TikTok username validation: canonical forms and the reason given for each bad name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>

#include "profiles/username.h"

static apr_pool_t *pool;

static const struct {
    const char *raw;
    const char *canonical;     /* NULL when the name is refused */
    const char *reason;        /* a part of the message that says why */
} cases[] = {
    { "@alice", "alice", NULL },
    { "Alice.B_1", "alice.b_1", NULL },
    { "ab", "ab", NULL },
    { "@AB", "ab", NULL },
    { "._", "._", NULL },
    { "abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx", NULL },
    { "@ABCDEFGHIJKLMNOPQRSTUVWX", "abcdefghijklmnopqrstuvwx", NULL },
    { "a", NULL, "2 to 24 characters long" },
    { "@a", NULL, "(got 1)" },
    { "abcdefghijklmnopqrstuvwxy", NULL, "(got 25)" },
    { "bad-name", NULL, "found '-' at position 4" },
    { "@bad-name", NULL, "found '-' at position 5" },
    { "spa ce", NULL, "found ' ' at position 4" },
    { "", NULL, "must not be empty" },
    { "@", NULL, "2 to 24 characters long, not counting a leading '@' (got 0)" },
    { "\xc3\xa9", NULL, "found non-ASCII character U+00E9 at position 1" },
    { "ab\xe2\x82\xac", NULL, "U+20AC at position 3" },
    { "ab\xff", NULL, "found a byte that is not UTF-8 at position 3" },
    { "ab\xc3", NULL, "a byte that is not UTF-8" },
    { "ab\tc", NULL, "found control character 0x09 at position 3" },
    { "@@x", NULL, "found '@' at position 2" },
    { "a@b", NULL, "found '@' at position 2" },
    { "al/ice", NULL, "letters, digits, '_' and '.'" },
};

static void test_table(void **state)
{
    const char *canonical, *err;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        canonical = "unset";
        err = profile_tiktok_username(pool, cases[i].raw, &canonical);
        if (cases[i].canonical) {
            if (err)
                fail_msg("\"%s\": unexpected error \"%s\"", cases[i].raw, err);
            assert_string_equal(canonical, cases[i].canonical);
        }
        else {
            if (!err)
                fail_msg("\"%s\" accepted as \"%s\"", cases[i].raw, canonical);
            assert_null(canonical);
            if (!strstr(err, cases[i].reason))
                fail_msg("\"%s\": \"%s\" does not say \"%s\"", cases[i].raw, err,
                         cases[i].reason);
        }
    }
}

static void test_null_and_long(void **state)
{
    char name[4096];
    const char *canonical = "unset", *err;

    (void)state;
    assert_non_null(profile_tiktok_username(pool, NULL, &canonical));
    assert_null(canonical);

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    err = profile_tiktok_username(pool, name, &canonical);
    assert_non_null(err);
    assert_non_null(strstr(err, "(got 4095)"));
    assert_null(canonical);
}

/* The canonical form is a copy: the caller's text stays as it was. */
static void test_input_untouched(void **state)
{
    char raw[] = "@MiXeD";
    const char *canonical;

    (void)state;
    assert_null(profile_tiktok_username(pool, raw, &canonical));
    assert_string_equal(canonical, "mixed");
    assert_string_equal(raw, "@MiXeD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_null_and_long),
        cmocka_unit_test(test_input_untouched),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("username", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
