/* profilectl's reader of ProfileDatabase in httpd configuration files.
 * profilectl is not part of libprofile.a, so its sources are compiled into this test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../profilectl/conf.c"
#include "../../profilectl/file.c"

static char err[512];

/* The value found in text, or NULL when the reader returns something other than 1. */
static char *found(const char *text)
{
    char *value = NULL;
    err[0] = '\0';
    if (profile_ctl_conf_find_database(text, &value, err, sizeof(err)) != 1) {
        assert_null(value);
        return NULL;
    }
    return value;
}

static void assert_found(const char *text, const char *expected)
{
    char *value = found(text);
    assert_non_null(value);
    assert_string_equal(value, expected);
    free(value);
}

static void assert_error(const char *text, const char *fragment)
{
    char *value = NULL;
    assert_int_equal(profile_ctl_conf_find_database(text, &value, err, sizeof(err)), -1);
    assert_null(value);
    assert_non_null(strstr(err, fragment));
}

static void test_quoted(void **state)
{
    (void)state;
    assert_found("ProfileDatabase \"host=/run/postgresql dbname=profile\"\n",
                 "host=/run/postgresql dbname=profile");
    assert_found("ProfileDatabase 'host=db user=api'\n", "host=db user=api");
    /* Backslash escapes the quote and itself, as in httpd. */
    assert_found("ProfileDatabase \"password='a\\\"b\\\\c' dbname=x\"\n",
                 "password='a\"b\\c' dbname=x");
}

static void test_unquoted(void **state)
{
    (void)state;
    assert_found("ProfileDatabase postgresql://api@db/profile\n", "postgresql://api@db/profile");
    assert_found("\tProfileDatabase   dbname=profile   \r\n", "dbname=profile");
    assert_found("ProfileDatabase dbname=profile", "dbname=profile"); /* no final newline */
}

static void test_comments_skipped(void **state)
{
    (void)state;
    assert_found("# ProfileDatabase \"host=old\"\n"
                 "   #ProfileDatabase host=older\n"
                 "\n"
                 "ProfileDatabase \"host=new\"\n", "host=new");
    /* A comment ending in a backslash continues onto the next line, as in httpd. */
    assert_null(found("# note \\\nProfileDatabase host=hidden\n"));
}

static void test_case_insensitive(void **state)
{
    (void)state;
    assert_found("profiledatabase dbname=a\n", "dbname=a");
    assert_found("PROFILEDATABASE \"dbname=b\"\n", "dbname=b");
}

static void test_other_directives_and_first_wins(void **state)
{
    (void)state;
    assert_found("ProfileDatabasePool 1 10\n"
                 "ProfileDatabaseTimeout 5\n"
                 "<VirtualHost *:80>\n"
                 "  ProfileDatabase \"dbname=first\"\n"
                 "</VirtualHost>\n"
                 "ProfileDatabase \"dbname=second\"\n", "dbname=first");
}

static void test_continuation(void **state)
{
    (void)state;
    assert_found("ProfileDatabase \"host=db \\\nuser=api dbname=profile\"\n",
                 "host=db user=api dbname=profile");
}

static void test_missing(void **state)
{
    (void)state;
    assert_null(found(""));
    assert_null(found("Listen 8002\nProfileDatabasePool 0 4\n"));
    assert_string_equal(err, "");
}

static void test_bad_values(void **state)
{
    (void)state;
    assert_error("Listen 80\nProfileDatabase\n", "line 2: ProfileDatabase needs a connection");
    assert_error("ProfileDatabase \"\"\n", "needs a connection string");
    assert_error("ProfileDatabase host=db dbname=x\n", "line 1: ProfileDatabase takes one argument");
    assert_error("ProfileDatabase \"${DB}\"\n", "pass --database");
}

static void test_file(void **state)
{
    char path[] = "/tmp/test_profilectl_conf_XXXXXX", *value = NULL;
    static const char text[] = "ServerName x\nProfileDatabase \"dbname=from_file\"\n";
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(profile_ctl_conf_database(path, &value, err, sizeof(err)), 1);
    assert_string_equal(value, "dbname=from_file");
    free(value);
    unlink(path);

    assert_int_equal(profile_ctl_conf_database(path, &value, err, sizeof(err)), -1);
    assert_null(value);
    assert_non_null(strstr(err, path));
}

static void test_file_errors_name_the_file(void **state)
{
    char path[] = "/tmp/test_profilectl_conf_XXXXXX", *value = NULL;
    static const char text[] = "ProfileDatabase a b\n";
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(profile_ctl_conf_database(path, &value, err, sizeof(err)), -1);
    unlink(path);
    assert_null(value);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 1: ProfileDatabase takes one argument"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_unquoted),
        cmocka_unit_test(test_comments_skipped),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_other_directives_and_first_wins),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_file_errors_name_the_file),
    };
    return cmocka_run_group_tests_name("profilectl_conf", tests, NULL, NULL);
}
