/* argon2id hashes, parameter changes, the password policy, the blocklist and the hash gate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "auth/hash_gate.h"
#include "auth/password.h"

static apr_pool_t *pool;
static const profile_argon2_params_t fast = { 1024, 1, 1 };

static void test_hash_verify(void **state)
{
    const char *a = profile_password_hash(pool, "correct horse battery", &fast);
    const char *b = profile_password_hash(pool, "correct horse battery", &fast);
    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_true(strncmp(a, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    assert_string_not_equal(a, b); /* fresh salt each time */
    assert_true(profile_password_verify(a, "correct horse battery"));
    assert_true(profile_password_verify(b, "correct horse battery"));
    assert_false(profile_password_verify(a, "correct horse batterY"));
    assert_false(profile_password_verify(a, ""));
    assert_false(profile_password_verify(a, NULL));
    assert_false(profile_password_verify(NULL, "x"));
    assert_false(profile_password_verify("", "x"));
    assert_false(profile_password_verify("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
    assert_false(profile_password_verify("$argon2id$v=19$m=1024,t=1,p=1$garbage", "x"));
}

static void test_owasp_defaults(void **state)
{
    static const profile_argon2_params_t owasp = { 19456, 2, 1 };
    const char *h = profile_password_hash(pool, "Admin123!", &owasp);
    (void)state;
    assert_non_null(h);
    assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_true(profile_password_verify(h, "Admin123!"));
    assert_false(profile_password_verify(h, "admin123!"));
    assert_false(profile_password_needs_rehash(h, &owasp));
    assert_true(profile_password_needs_rehash(h, &fast));
}

static void test_length_limits(void **state)
{
    char longest[PROFILE_PASSWORD_MAX_BYTES + 2];
    const char *h;
    (void)state;
    memset(longest, 'x', sizeof(longest));
    longest[PROFILE_PASSWORD_MAX_BYTES] = '\0';
    h = profile_password_hash(pool, longest, &fast);
    assert_non_null(h);
    assert_true(profile_password_verify(h, longest));
    longest[PROFILE_PASSWORD_MAX_BYTES] = 'x';
    longest[PROFILE_PASSWORD_MAX_BYTES + 1] = '\0';
    assert_null(profile_password_hash(pool, longest, &fast));
    assert_false(profile_password_verify(h, longest));
    assert_null(profile_password_hash(pool, NULL, &fast));
    assert_null(profile_password_hash(pool, "x", NULL));
}

static void test_needs_rehash(void **state)
{
    const char *h = profile_password_hash(pool, "some password", &fast);
    profile_argon2_params_t other = fast;
    (void)state;
    assert_false(profile_password_needs_rehash(h, &fast));
    other.memory_kib = 2048;
    assert_true(profile_password_needs_rehash(h, &other));
    other = fast;
    other.iterations = 2;
    assert_true(profile_password_needs_rehash(h, &other));
    other = fast;
    other.parallelism = 2;
    assert_true(profile_password_needs_rehash(h, &other));
    assert_true(profile_password_needs_rehash(NULL, &fast));
    assert_true(profile_password_needs_rehash("", &fast));
    assert_true(profile_password_needs_rehash("$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA", &fast));
    assert_true(profile_password_needs_rehash("$argon2id$v=16$m=1024,t=1,p=1$c2FsdA$aGFzaA", &fast));
    assert_true(profile_password_needs_rehash("$argon2id$v=19$m=1024,t=1$c2FsdA$aGFzaA", &fast));
    assert_true(profile_password_needs_rehash("$argon2id$v=19$m=x,t=1,p=1$c2FsdA$aGFzaA", &fast));
    assert_false(profile_password_needs_rehash("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA",
                                               &fast));
}

static int has_message(const apr_array_header_t *msgs, const char *msg)
{
    int i;
    for (i = 0; msgs && i < msgs->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(msgs, i, const char *), msg) == 0)
            return 1;
    return 0;
}

static apr_hash_t *small_blocklist(void)
{
    apr_hash_t *h = apr_hash_make(pool);
    apr_hash_set(h, "password1", APR_HASH_KEY_STRING, "password1");
    apr_hash_set(h, "letmein", APR_HASH_KEY_STRING, "letmein");
    return h;
}

static void test_policy(void **state)
{
    apr_hash_t *bl = small_blocklist();
    apr_array_header_t *m;
    char *too_long = apr_palloc(pool, 300);
    (void)state;
    assert_null(profile_password_check(pool, "a sufficiently long one", "alice", 12, bl));
    assert_null(profile_password_check(pool, "Admin123!", "admin2", 8, bl));

    m = profile_password_check(pool, "short", "bob", 12, bl);
    assert_non_null(m);
    assert_int_equal(m->nelts, 1);
    assert_true(has_message(m, "must be at least 12 characters long"));

    m = profile_password_check(pool, "PassWord1", "carol", 8, bl);
    assert_int_equal(m->nelts, 1);
    assert_true(has_message(m, "is too common (it appears in a list of breached passwords)"));

    m = profile_password_check(pool, "xxAliCExx-long-enough", "alice", 12, bl);
    assert_int_equal(m->nelts, 1);
    assert_true(has_message(m, "must not contain the username"));

    /* Every unmet rule at once. */
    m = profile_password_check(pool, "LetMeIn", "letme", 8, bl);
    assert_int_equal(m->nelts, 3);
    assert_true(has_message(m, "must be at least 8 characters long"));
    assert_true(has_message(m, "is too common (it appears in a list of breached passwords)"));
    assert_true(has_message(m, "must not contain the username"));

    memset(too_long, 'q', 299);
    too_long[299] = '\0';
    m = profile_password_check(pool, too_long, "dave", 12, bl);
    assert_int_equal(m->nelts, 1);
    assert_true(has_message(m, "must be at most 256 bytes long"));

    m = profile_password_check(pool, "", "erin", 12, NULL);
    assert_true(has_message(m, "must be at least 12 characters long"));
    m = profile_password_check(pool, NULL, NULL, 12, NULL);
    assert_true(has_message(m, "must be at least 12 characters long"));
    assert_null(profile_password_check(pool, "password1 but longer", NULL, 12, NULL));
    /* Characters, not bytes: twelve two-byte letters pass a minimum of 12. */
    assert_null(profile_password_check(pool, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                       "frank", 12, NULL));
    m = profile_password_check(pool, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "gina",
                               12, NULL);
    assert_true(has_message(m, "must be at least 12 characters long"));
}

static const char *write_temp(const char *content)
{
    const char *dir = NULL;
    char *path;
    apr_file_t *f;
    apr_size_t n = strlen(content);

    assert_int_equal(apr_temp_dir_get(&dir, pool), APR_SUCCESS);
    path = apr_pstrcat(pool, dir, "/blocklistXXXXXX", NULL);
    assert_int_equal(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_READ
                                     | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                     | APR_FOPEN_DELONCLOSE, pool),
                     APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, content, n, NULL), APR_SUCCESS);
    assert_int_equal(apr_file_flush(f), APR_SUCCESS);
    /* DELONCLOSE: the file goes when the pool is destroyed. */
    return path;
}

static void test_blocklist_load(void **state)
{
    char *longline = apr_palloc(pool, 400);
    const char *content, *path;
    apr_hash_t *h = NULL;
    (void)state;
    memset(longline, 'z', 399);
    longline[399] = '\0';
    content = apr_pstrcat(pool, "#!comment: a header\n#another\n\nQwerty123\r\nhunter2\n",
                          longline, "\nafterlong\n   \nlastline", NULL);
    path = write_temp(content);
    assert_int_equal(profile_password_blocklist_load(pool, path, &h), APR_SUCCESS);
    assert_non_null(h);
    assert_non_null(apr_hash_get(h, "qwerty123", APR_HASH_KEY_STRING));
    assert_non_null(apr_hash_get(h, "hunter2", APR_HASH_KEY_STRING));
    assert_non_null(apr_hash_get(h, "afterlong", APR_HASH_KEY_STRING));
    assert_non_null(apr_hash_get(h, "lastline", APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, "   ", APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, "Qwerty123", APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, "#another", APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, longline, APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, "zzzzzzzzzz", APR_HASH_KEY_STRING));
    assert_int_equal(apr_hash_count(h), 4);
    assert_true(has_message(profile_password_check(pool, "QWERTY123", NULL, 8, h),
                            "is too common (it appears in a list of breached passwords)"));

    assert_int_not_equal(profile_password_blocklist_load(pool, "/nonexistent/list", &h),
                         APR_SUCCESS);
}

/* The list shipped in conf/ (tests run from the top of the tree). */
static void test_shipped_blocklist(void **state)
{
    apr_hash_t *h = NULL;
    (void)state;
    assert_int_equal(profile_password_blocklist_load(pool, "conf/common-passwords.txt", &h),
                     APR_SUCCESS);
    assert_true(apr_hash_count(h) > 3000);
    assert_non_null(apr_hash_get(h, "123456", APR_HASH_KEY_STRING));
    assert_non_null(apr_hash_get(h, "password1", APR_HASH_KEY_STRING));
    assert_null(apr_hash_get(h, "#!comment:", APR_HASH_KEY_STRING));
    assert_true(has_message(profile_password_check(pool, "Password1", NULL, 8, h),
                            "is too common (it appears in a list of breached passwords)"));
}

static void test_hash_gate(void **state)
{
    int i;
    (void)state;
    /* Before init the bound is the default. */
    for (i = 0; i < PROFILE_HASH_GATE_DEFAULT; i++)
        assert_true(profile_hash_gate_enter());
    assert_false(profile_hash_gate_enter());
    for (i = 0; i < PROFILE_HASH_GATE_DEFAULT; i++)
        profile_hash_gate_leave();

    assert_int_equal(profile_hash_gate_init(pool, 2), APR_SUCCESS);
    assert_int_equal(profile_hash_gate_init(pool, 2), APR_SUCCESS);
    assert_true(profile_hash_gate_enter());
    assert_true(profile_hash_gate_enter());
    assert_false(profile_hash_gate_enter());
    profile_hash_gate_leave();
    assert_true(profile_hash_gate_enter());
    assert_false(profile_hash_gate_enter());
    profile_hash_gate_leave();
    profile_hash_gate_leave();

    assert_int_equal(profile_hash_gate_init(pool, 0), APR_SUCCESS);
    assert_true(profile_hash_gate_enter());
    assert_false(profile_hash_gate_enter());
    profile_hash_gate_leave();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_owasp_defaults),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_needs_rehash),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_blocklist_load),
        cmocka_unit_test(test_shipped_blocklist),
        cmocka_unit_test(test_hash_gate),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("password", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
