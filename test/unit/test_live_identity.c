/* The signed identity headers httpd hands the live sidecar (common/live_identity.c): the
 * signature against an independently computed HMAC, verification, clock skew, tampering and
 * the scope list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "live_identity.h"

#define SECRET ((const unsigned char *)"0123456789abcdef0123456789abcdef")
#define SECRET_LEN 32
#define NOW 1700000000
#define PRINCIPAL "key:abc"
#define SCOPES "comments:read sessions:read"
#define SESSION "test-session"
/* python3: hmac.new(SECRET, b"v1\n1700000000\nkey:abc\ncomments:read sessions:read\n"
 *                   b"test-session", hashlib.sha256).hexdigest() */
#define KNOWN_SIG "def683de0a31ccc9e1c3064eeabb4adc08a9666e3e3cfb86e0fdb46bfd56ca63"

static int verify(int64_t now, const char *time_text, const char *principal, const char *scopes,
                  const char *session, const char *sig)
{
    return live_identity_verify(SECRET, SECRET_LEN, now, time_text, principal, scopes, session,
                                sig);
}

static void test_sign_known_vector(void **state)
{
    char sig[LIVE_IDENTITY_SIG_LEN + 1];
    (void)state;

    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, PRINCIPAL, SCOPES, SESSION,
                                        sig), 0);
    assert_string_equal(sig, KNOWN_SIG);
    assert_int_equal(strlen(sig), LIVE_IDENTITY_SIG_LEN);
}

static void test_sign_verify_round_trip(void **state)
{
    char sig[LIVE_IDENTITY_SIG_LEN + 1];
    (void)state;

    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, "user:42", "comments:read", "s",
                                        sig), 0);
    assert_true(verify(NOW, "1700000000", "user:42", "comments:read", "s", sig));
    /* Empty scope list and the longest session id still sign and verify. */
    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, PRINCIPAL, "",
        "a123456789b123456789c123456789d123456789e123456789f123456789abcd", sig), 0);
    assert_true(verify(NOW, "1700000000", PRINCIPAL, "",
        "a123456789b123456789c123456789d123456789e123456789f123456789abcd", sig));
}

static void test_clock_skew(void **state)
{
    (void)state;

    assert_true(verify(NOW + LIVE_IDENTITY_MAX_SKEW, "1700000000", PRINCIPAL, SCOPES, SESSION,
                       KNOWN_SIG));
    assert_true(verify(NOW - LIVE_IDENTITY_MAX_SKEW, "1700000000", PRINCIPAL, SCOPES, SESSION,
                       KNOWN_SIG));
    assert_false(verify(NOW + LIVE_IDENTITY_MAX_SKEW + 1, "1700000000", PRINCIPAL, SCOPES,
                        SESSION, KNOWN_SIG));
    assert_false(verify(NOW - LIVE_IDENTITY_MAX_SKEW - 1, "1700000000", PRINCIPAL, SCOPES,
                        SESSION, KNOWN_SIG));
}

static void test_tampering(void **state)
{
    char sig[LIVE_IDENTITY_SIG_LEN + 1];
    (void)state;

    assert_true(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    /* Every signed field, and the signature itself. */
    assert_false(verify(NOW, "1700000001", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", "key:abd", SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES " admin", SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, "other-session", KNOWN_SIG));
    memcpy(sig, KNOWN_SIG, sizeof(sig));
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, sig));
    /* Upper-case hex is another string: refused. */
    memcpy(sig, KNOWN_SIG, sizeof(sig));
    sig[0] = 'D';
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, sig));
    /* Truncated or extended signature. */
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, "def683de"));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG "00"));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, ""));
    /* Another secret. */
    assert_false(live_identity_verify((const unsigned char *)"another secret, 32 bytes long!!!",
                                      32, NOW, "1700000000", PRINCIPAL, SCOPES, SESSION,
                                      KNOWN_SIG));
    /* Moving a field boundary ("a\nb" vs "a" + "b" on the next line) needs a newline, which
     * signing refuses. */
    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, "key:abc\ncomments:read",
                                        "sessions:read", SESSION, sig), -1);
}

static void test_bad_inputs(void **state)
{
    char big[LIVE_IDENTITY_FIELD_MAX + 2], sig[LIVE_IDENTITY_SIG_LEN + 1];
    (void)state;

    /* The time must be decimal and nothing else. */
    assert_false(verify(NOW, "", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000 ", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "0x6553f100", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "99999999999999999999999", PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    /* Missing pieces. */
    assert_false(verify(NOW, NULL, PRINCIPAL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", NULL, SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", "", SCOPES, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, NULL, SESSION, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, NULL, KNOWN_SIG));
    assert_false(verify(NOW, "1700000000", PRINCIPAL, SCOPES, SESSION, NULL));
    /* Fields longer than LIVE_IDENTITY_FIELD_MAX are refused; exactly the maximum is fine. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, big, SCOPES, SESSION, sig), -1);
    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, PRINCIPAL, big, SESSION, sig),
                     -1);
    big[LIVE_IDENTITY_FIELD_MAX] = '\0';
    assert_int_equal(live_identity_sign(SECRET, SECRET_LEN, NOW, big, SCOPES, SESSION, sig), 0);
    assert_true(verify(NOW, "1700000000", big, SCOPES, SESSION, sig));
}

static void test_has_scope(void **state)
{
    (void)state;

    assert_true(live_identity_has_scope("comments:read", "comments:read"));
    assert_true(live_identity_has_scope("sessions:read comments:read", "comments:read"));
    assert_true(live_identity_has_scope("  comments:read  admin ", "comments:read"));
    assert_true(live_identity_has_scope("comments:read admin", "admin"));
    assert_false(live_identity_has_scope("comments:readx", "comments:read"));
    assert_false(live_identity_has_scope("xcomments:read", "comments:read"));
    assert_false(live_identity_has_scope("comments", "comments:read"));
    assert_false(live_identity_has_scope("comments:read,sessions:read", "comments:read"));
    assert_false(live_identity_has_scope("", "comments:read"));
    assert_false(live_identity_has_scope("   ", "comments:read"));
    assert_false(live_identity_has_scope("comments:read", ""));
    /* Exactly the scope, not what admin implies: the signer names every scope. */
    assert_false(live_identity_has_scope("admin", "comments:read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_vector),
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_has_scope),
    };
    return cmocka_run_group_tests_name("live_identity", tests, NULL, NULL);
}
