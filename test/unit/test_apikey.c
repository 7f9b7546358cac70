/* API key format, check digits, and the crypto functions keys are built from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "auth/apikey.h"
#include "auth/crypto.h"

static apr_pool_t *pool;

static int all_alnum(const char *s, apr_size_t n)
{
    apr_size_t i;
    for (i = 0; i < n; i++)
        if (!apr_isalnum(s[i]))
            return 0;
    return 1;
}

static void test_format(void **state)
{
    const char *id = NULL, *parsed = NULL;
    const char *key = profile_apikey_generate(pool, &id);
    (void)state;
    assert_non_null(key);
    assert_int_equal(strlen(key), PROFILE_APIKEY_LEN);
    assert_int_equal(PROFILE_APIKEY_LEN, 3 + 12 + 1 + 32 + 1 + 6);
    assert_memory_equal(key, "pk_", 3);
    assert_int_equal(strlen(id), PROFILE_APIKEY_ID_LEN);
    assert_memory_equal(key + 3, id, PROFILE_APIKEY_ID_LEN);
    assert_int_equal(key[15], '_');
    assert_int_equal(key[48], '_');
    assert_true(all_alnum(key + 3, 12) && all_alnum(key + 16, 32) && all_alnum(key + 49, 6));
    assert_true(profile_apikey_parse(pool, key, &parsed));
    assert_string_equal(parsed, id);
    assert_true(profile_apikey_parse(pool, key, NULL));
    assert_string_not_equal(key, profile_apikey_generate(pool, NULL));
}

/* Every single-character substitution anywhere in the key is refused by the check. */
static void test_typo_caught(void **state)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const char *key = profile_apikey_generate(pool, NULL);
    char *copy = apr_pstrdup(pool, key);
    apr_size_t i, j;
    (void)state;
    for (i = 0; i < PROFILE_APIKEY_LEN; i++) {
        if (key[i] == '_' || i < 3)
            continue;
        for (j = 0; j < sizeof(alphabet) - 1; j++) {
            if (alphabet[j] == key[i])
                continue;
            copy[i] = alphabet[j];
            assert_false(profile_apikey_parse(pool, copy, NULL));
        }
        copy[i] = key[i];
    }
    assert_true(profile_apikey_parse(pool, copy, NULL));
    /* Two adjacent characters swapped. */
    for (i = 16; i + 1 < 48; i++) {
        if (copy[i] == copy[i + 1])
            continue;
        copy[i] = key[i + 1];
        copy[i + 1] = key[i];
        assert_false(profile_apikey_parse(pool, copy, NULL));
        copy[i] = key[i];
        copy[i + 1] = key[i + 1];
    }
}

static void test_wrong_shapes(void **state)
{
    const char *key = profile_apikey_generate(pool, NULL);
    char *c;
    (void)state;
    assert_false(profile_apikey_parse(pool, NULL, NULL));
    assert_false(profile_apikey_parse(pool, "", NULL));
    assert_false(profile_apikey_parse(pool, "dev-api-key-12345", NULL));
    assert_false(profile_apikey_parse(pool, apr_pstrndup(pool, key, PROFILE_APIKEY_LEN - 1),
                                      NULL));
    assert_false(profile_apikey_parse(pool, apr_pstrcat(pool, key, "0", NULL), NULL));
    assert_false(profile_apikey_parse(pool, apr_pstrcat(pool, key, "\n", NULL), NULL));
    c = apr_pstrdup(pool, key);
    c[0] = 'P';
    assert_false(profile_apikey_parse(pool, c, NULL));
    c = apr_pstrdup(pool, key);
    memcpy(c, "sk_", 3);
    assert_false(profile_apikey_parse(pool, c, NULL));
    c = apr_pstrdup(pool, key);
    c[15] = '-';
    assert_false(profile_apikey_parse(pool, c, NULL));
    c = apr_pstrdup(pool, key);
    c[20] = '_';
    assert_false(profile_apikey_parse(pool, c, NULL));
    c = apr_pstrdup(pool, key);
    c[50] = ' ';
    assert_false(profile_apikey_parse(pool, c, NULL));
}

static void test_generate_for(void **state)
{
    const char *a = profile_apikey_generate_for(pool, "AbCdEf012345");
    const char *b = profile_apikey_generate_for(pool, "AbCdEf012345");
    const char *id = NULL;
    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "pk_AbCdEf012345_", 16);
    assert_memory_equal(b, "pk_AbCdEf012345_", 16);
    assert_true(profile_apikey_parse(pool, b, &id));
    assert_string_equal(id, "AbCdEf012345");
    assert_null(profile_apikey_generate_for(pool, "short"));
    assert_null(profile_apikey_generate_for(pool, "AbCdEf0123456"));
    assert_null(profile_apikey_generate_for(pool, "AbCdEf01234_"));
    assert_null(profile_apikey_generate_for(pool, NULL));
}

/* The check is CRC-32 of "pk_<id>_<secret>" in base 62 (0-9A-Za-z), six digits, zero-padded. */
static void test_known_check(void **state)
{
    (void)state;
    /* CRC-32 0x63ab9fa9 = 1672191913 = "1pALVJ". */
    assert_true(profile_apikey_parse(
        pool, "pk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_1pALVJ", NULL));
    /* CRC-32 0x2d22c62e = 757253678 = "pFMH0", padded. */
    assert_true(profile_apikey_parse(
        pool, "pk_AAAAAAAAAAA4_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_0pFMH0", NULL));
    assert_false(profile_apikey_parse(
        pool, "pk_AAAAAAAAAAA4_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_pFMH00", NULL));
}

static void test_crypto(void **state)
{
    const char *r;
    apr_size_t i;
    int seen[62] = { 0 };
    (void)state;
    assert_string_equal(profile_sha256_hex(pool, "", 0),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(profile_sha256_hex(pool, "dev-api-key-12345", 17),
                        "8264dc9f07e749d9c2ffead0b25de8cb22bed7af774e189ef224ae015908776b");
    assert_true(profile_secure_equals("abc", "abc"));
    assert_false(profile_secure_equals("abc", "abd"));
    assert_false(profile_secure_equals("abc", "abcd"));
    assert_false(profile_secure_equals("", "a"));
    assert_true(profile_secure_equals("", ""));
    assert_false(profile_secure_equals(NULL, "a"));
    r = profile_random_base62(pool, 0);
    assert_string_equal(r, "");
    r = profile_random_base62(pool, 6200);
    assert_int_equal(strlen(r), 6200);
    for (i = 0; i < 6200; i++) {
        const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        const char *at = strchr(digits, r[i]);
        assert_non_null(at);
        seen[at - digits]++;
    }
    /* Expected 100 of each; a biased or broken mapping would leave some near zero. */
    for (i = 0; i < 62; i++)
        assert_true(seen[i] > 40 && seen[i] < 180);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_typo_caught),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_generate_for),
        cmocka_unit_test(test_known_check),
        cmocka_unit_test(test_crypto),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("apikey", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
