/* Username and email rules shared by POST /auth/register and profilectl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "auth/identity.h"

static void test_usernames(void **state)
{
    (void)state;
    assert_true(profile_username_length_ok("bob"));
    assert_true(profile_username_length_ok("a2345678901234567890123456789012"));
    assert_false(profile_username_length_ok("ab"));
    assert_false(profile_username_length_ok("a23456789012345678901234567890123"));
    assert_true(profile_username_chars_ok("Alice_1.x-y"));
    assert_false(profile_username_chars_ok("alice bob"));
    assert_false(profile_username_chars_ok("al@ce"));
    assert_false(profile_username_chars_ok("ali\xc3\xa7"));
}

static void test_emails(void **state)
{
    (void)state;
    assert_true(profile_email_ok("admin@example.com"));
    assert_true(profile_email_ok("first.last+tag@mail.example.org"));
    assert_false(profile_email_ok("admin@localhost"));
    assert_false(profile_email_ok("@example.com"));
    assert_false(profile_email_ok("a@b@example.com"));
    assert_false(profile_email_ok("a@.example.com"));
    assert_false(profile_email_ok("a@example.com."));
    assert_false(profile_email_ok("a@example..com"));
    assert_false(profile_email_ok("a b@example.com"));
    assert_false(profile_email_ok("a@example.com\n"));
    assert_false(profile_email_ok(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usernames),
        cmocka_unit_test(test_emails),
    };
    return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
