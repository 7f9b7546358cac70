/* Access tokens: round trips for each algorithm, and forged or broken tokens refused with the
 * right reason. Forged tokens are built here with OpenSSL (base64url + HMAC), not with libjwt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jwt.h"

#define NOW_S 1800000000
#define NOW apr_time_from_sec(NOW_S)

static apr_pool_t *pool;
static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";
static char *rsa_private, *rsa_public, *ec_private, *ec_public;

static char *b64url(const void *data, apr_size_t n)
{
    char *out = apr_palloc(pool, 4 * ((n + 2) / 3) + 1), *c;
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

/* header.payload.signature with an HMAC of the given digest, or no signature when md is NULL. */
static const char *forge(const char *header, const char *payload, const EVP_MD *md,
                         const void *key, apr_size_t key_len)
{
    char *input = apr_pstrcat(pool, b64url_str(header), ".", b64url_str(payload), NULL);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (!md)
        return apr_pstrcat(pool, input, ".", NULL);
    assert_non_null(HMAC(md, key, (int)key_len, (unsigned char *)input, strlen(input), mac,
                         &mac_len));
    return apr_pstrcat(pool, input, ".", b64url(mac, mac_len), NULL);
}

static const char *hs256(const char *payload)
{
    return forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, EVP_sha256(), secret,
                 strlen(secret));
}

/* A payload with the usual claims; exp/nbf relative to NOW_S. */
static const char *payload_at(long exp_delta, long nbf_delta)
{
    return apr_psprintf(pool, "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\",\"sub\":\"42\","
                        "\"jti\":\"abc\",\"iat\":%d,\"nbf\":%ld,\"exp\":%ld}",
                        NOW_S, NOW_S + nbf_delta, NOW_S + exp_delta);
}

static const char *payload(void)
{
    return payload_at(900, 0);
}

static profile_jwt_config_t hs_config(void)
{
    profile_jwt_config_t c;
    memset(&c, 0, sizeof(c));
    c.alg = PROFILE_JWT_HS256;
    c.sign_key = c.verify_key = (const unsigned char *)secret;
    c.sign_key_len = c.verify_key_len = strlen(secret);
    c.issuer = "mod_profile";
    c.audience = "profile-api";
    c.leeway_s = 30;
    c.access_lifetime_s = 900;
    return c;
}

static profile_jwt_config_t pk_config(profile_jwt_alg_t alg, const char *priv, const char *pub)
{
    profile_jwt_config_t c = hs_config();
    c.alg = alg;
    c.sign_key = (const unsigned char *)priv;
    c.sign_key_len = strlen(priv);
    c.verify_key = (const unsigned char *)pub;
    c.verify_key_len = strlen(pub);
    return c;
}

static void pem_pair(const char *type, const void *arg, char **priv, char **pub)
{
    EVP_PKEY *key = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                             : EVP_PKEY_Q_keygen(NULL, NULL, "EC", (char *)arg);
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;

    assert_non_null(key);
    assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(b, &data);
    *priv = apr_pstrmemdup(pool, data, (apr_size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, key), 1);
    n = BIO_get_mem_data(b, &data);
    *pub = apr_pstrmemdup(pool, data, (apr_size_t)n);
    BIO_free(b);
    EVP_PKEY_free(key);
}

static int setup_keys(void **state)
{
    (void)state;
    pem_pair("RSA", NULL, &rsa_private, &rsa_public);
    pem_pair("EC", "P-256", &ec_private, &ec_public);
    return 0;
}

static profile_jwt_claims_t sample_claims(void)
{
    profile_jwt_claims_t c;
    memset(&c, 0, sizeof(c));
    c.sub = "42";
    c.username = "alice";
    c.role = "user";
    c.scopes = "profiles:read profiles:write";
    c.sid = "family-7";
    return c;
}

static char *segment(const char *token, int index)
{
    const char *s = token;
    char *seg;
    while (index-- > 0)
        s = strchr(s, '.') + 1;
    seg = apr_pstrndup(pool, s, strcspn(s, "."));
    return seg;
}

static const char *decode_segment(const char *seg)
{
    char *std = apr_pstrdup(pool, seg), *c, *out;
    int len;
    for (c = std; *c; c++)
        *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
    while (strlen(std) % 4)
        std = apr_pstrcat(pool, std, "=", NULL);
    out = apr_pcalloc(pool, strlen(std));
    len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)std, (int)strlen(std));
    assert_true(len >= 0);
    return out;
}

static void round_trip(const profile_jwt_config_t *cfg, const char *alg_name)
{
    profile_jwt_claims_t in = sample_claims(), out;
    const char *token = profile_jwt_issue(pool, cfg, &in, NOW), *head, *body;

    assert_non_null(token);
    assert_true(strlen(token) <= PROFILE_JWT_MAX_BYTES);
    assert_non_null(in.jti);
    assert_int_equal(strlen(in.jti), 32);
    assert_true(strspn(in.jti, "0123456789abcdef") == 32);
    assert_true(in.iat == NOW && in.nbf == NOW && in.exp == NOW + apr_time_from_sec(900));

    head = decode_segment(segment(token, 0));
    assert_non_null(strstr(head, "\"typ\":\"JWT\""));
    assert_non_null(strstr(head, apr_psprintf(pool, "\"alg\":\"%s\"", alg_name)));
    body = decode_segment(segment(token, 1));
    assert_non_null(strstr(body, "\"aud\":\"profile-api\""));
    assert_non_null(strstr(body, "\"iss\":\"mod_profile\""));

    memset(&out, 0, sizeof(out));
    assert_null(profile_jwt_verify(pool, cfg, token, NOW + apr_time_from_sec(10), &out));
    assert_string_equal(out.sub, "42");
    assert_string_equal(out.username, "alice");
    assert_string_equal(out.role, "user");
    assert_string_equal(out.scopes, "profiles:read profiles:write");
    assert_string_equal(out.sid, "family-7");
    assert_string_equal(out.jti, in.jti);
    assert_true(out.iat == NOW && out.nbf == NOW && out.exp == in.exp);

    /* A second token differs in jti. */
    in = sample_claims();
    assert_string_not_equal(profile_jwt_issue(pool, cfg, &in, NOW), token);
    assert_string_equal(profile_jwt_verify(pool, cfg, token, NOW + apr_time_from_sec(931), NULL),
                        "token expired");
}

static void test_round_trip_hs256(void **state)
{
    profile_jwt_config_t cfg = hs_config();
    profile_jwt_claims_t c = sample_claims();
    (void)state;
    round_trip(&cfg, "HS256");
    /* Explicit times and jti are kept. */
    c.jti = "fixed-jti";
    c.exp = NOW + apr_time_from_sec(60);
    assert_null(profile_jwt_verify(pool, &cfg, profile_jwt_issue(pool, &cfg, &c, NOW), NOW, &c));
    assert_string_equal(c.jti, "fixed-jti");
    assert_true(c.exp == NOW + apr_time_from_sec(60));
    /* Our own HMAC agrees with the issued token's signature. */
    c = sample_claims();
    c.jti = "j1";
    {
        const char *t = profile_jwt_issue(pool, &cfg, &c, NOW);
        const char *input = apr_pstrndup(pool, t, (apr_size_t)(strrchr(t, '.') - t));
        unsigned char mac[32];
        unsigned int n = 0;
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input,
             strlen(input), mac, &n);
        assert_string_equal(strrchr(t, '.') + 1, b64url(mac, n));
    }
}

static void test_round_trip_rs256(void **state)
{
    profile_jwt_config_t cfg = pk_config(PROFILE_JWT_RS256, rsa_private, rsa_public);
    (void)state;
    round_trip(&cfg, "RS256");
}

static void test_round_trip_es256(void **state)
{
    profile_jwt_config_t cfg = pk_config(PROFILE_JWT_ES256, ec_private, ec_public);
    profile_jwt_claims_t c = sample_claims();
    (void)state;
    round_trip(&cfg, "ES256");
    /* JWS ES256 signatures are R || S, 64 bytes: 86 base64url characters. */
    assert_int_equal(strlen(segment(profile_jwt_issue(pool, &cfg, &c, NOW), 2)), 86);
}

static void test_issue_failures(void **state)
{
    profile_jwt_config_t cfg = hs_config();
    profile_jwt_claims_t c = sample_claims();
    (void)state;
    cfg.sign_key = NULL;
    assert_null(profile_jwt_issue(pool, &cfg, &c, NOW));
    cfg = pk_config(PROFILE_JWT_RS256, "not a pem", rsa_public);
    assert_null(profile_jwt_issue(pool, &cfg, &c, NOW));
    cfg = hs_config();
    c.sub = NULL;
    assert_null(profile_jwt_issue(pool, &cfg, &c, NOW));
}

static void test_alg_none(void **state)
{
    profile_jwt_config_t hs = hs_config();
    profile_jwt_config_t rs = pk_config(PROFILE_JWT_RS256, rsa_private, rsa_public);
    const char *p = b64url_str(payload());
    (void)state;
    assert_string_equal(profile_jwt_verify(pool, &hs, apr_pstrcat(pool, "eyJhbGciOiJub25lIn0.",
                                                                  p, ".", NULL), NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &rs, apr_pstrcat(pool, "eyJhbGciOiJub25lIn0.",
                                                                  p, ".", NULL), NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                                            payload(), NULL, NULL, 0),
                                           NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"None\"}", payload(),
                                                            EVP_sha256(), secret,
                                                            strlen(secret)), NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"typ\":\"JWT\"}", payload(),
                                                            EVP_sha256(), secret,
                                                            strlen(secret)), NOW, NULL),
                        "unexpected algorithm");
    /* A duplicated alg cannot smuggle a second value past the check. */
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"HS256\",\"alg\":\"none\"}",
                                                            payload(), EVP_sha256(), secret,
                                                            strlen(secret)), NOW, NULL),
                        "malformed token");
}

/* The classic confusion: the RS256 public key (public knowledge) used as an HMAC secret. */
static void test_hs256_with_public_key(void **state)
{
    profile_jwt_config_t rs = pk_config(PROFILE_JWT_RS256, rsa_private, rsa_public);
    (void)state;
    assert_string_equal(profile_jwt_verify(pool, &rs, forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                                                            payload(), EVP_sha256(), rsa_public,
                                                            strlen(rsa_public)), NOW, NULL),
                        "unexpected algorithm");
    /* The same MAC under a header that claims RS256 is just a bad signature. */
    assert_string_equal(profile_jwt_verify(pool, &rs, forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                                            payload(), EVP_sha256(), rsa_public,
                                                            strlen(rsa_public)), NOW, NULL),
                        "bad signature");
}

static void test_other_algorithms(void **state)
{
    profile_jwt_config_t hs = hs_config();
    profile_jwt_config_t rs = pk_config(PROFILE_JWT_RS256, rsa_private, rsa_public);
    profile_jwt_config_t es = pk_config(PROFILE_JWT_ES256, ec_private, ec_public);
    profile_jwt_claims_t c = sample_claims();
    (void)state;
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
                                                            payload(), EVP_sha512(), secret,
                                                            strlen(secret)), NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"hs256\"}", payload(),
                                                            EVP_sha256(), secret,
                                                            strlen(secret)), NOW, NULL),
                        "unexpected algorithm");
    assert_string_equal(profile_jwt_verify(pool, &hs, profile_jwt_issue(pool, &rs, &c, NOW), NOW,
                                           NULL),
                        "unexpected algorithm");
    c = sample_claims();
    assert_string_equal(profile_jwt_verify(pool, &rs, profile_jwt_issue(pool, &es, &c, NOW), NOW,
                                           NULL),
                        "unexpected algorithm");
    c = sample_claims();
    assert_string_equal(profile_jwt_verify(pool, &es, profile_jwt_issue(pool, &hs, &c, NOW), NOW,
                                           NULL),
                        "unexpected algorithm");
    /* Right algorithm, someone else's key. */
    {
        char *other_priv, *other_pub;
        profile_jwt_config_t other;
        pem_pair("EC", "P-256", &other_priv, &other_pub);
        other = pk_config(PROFILE_JWT_ES256, other_priv, other_pub);
        c = sample_claims();
        assert_string_equal(profile_jwt_verify(pool, &es, profile_jwt_issue(pool, &other, &c, NOW),
                                               NOW, NULL),
                            "bad signature");
    }
}

static void test_tampered(void **state)
{
    profile_jwt_config_t hs = hs_config();
    profile_jwt_config_t rs = pk_config(PROFILE_JWT_RS256, rsa_private, rsa_public);
    profile_jwt_claims_t c = sample_claims();
    const char *admin = b64url_str(apr_psprintf(pool, "{\"iss\":\"mod_profile\",\"aud\":"
                                                "\"profile-api\",\"sub\":\"1\",\"jti\":\"x\","
                                                "\"role\":\"admin\",\"exp\":%d}", NOW_S + 900));
    const char *t;
    char *flipped;
    (void)state;
    t = profile_jwt_issue(pool, &hs, &c, NOW);
    assert_string_equal(profile_jwt_verify(pool, &hs, apr_pstrcat(pool, segment(t, 0), ".", admin,
                                                                  ".", segment(t, 2), NULL),
                                           NOW, NULL),
                        "bad signature");
    flipped = apr_pstrdup(pool, t);
    flipped[strlen(flipped) - 2] = flipped[strlen(flipped) - 2] == 'A' ? 'B' : 'A';
    assert_string_equal(profile_jwt_verify(pool, &hs, flipped, NOW, NULL), "bad signature");
    assert_string_equal(profile_jwt_verify(pool, &hs, apr_pstrcat(pool, segment(t, 0), ".",
                                                                  segment(t, 1), ".", NULL),
                                           NOW, NULL),
                        "bad signature");
    c = sample_claims();
    t = profile_jwt_issue(pool, &rs, &c, NOW);
    assert_string_equal(profile_jwt_verify(pool, &rs, apr_pstrcat(pool, segment(t, 0), ".", admin,
                                                                  ".", segment(t, 2), NULL),
                                           NOW, NULL),
                        "bad signature");
    /* A different secret. */
    hs.verify_key = (const unsigned char *)"another secret that is long enough!!";
    hs.verify_key_len = strlen((const char *)hs.verify_key);
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload()), NOW, NULL),
                        "bad signature");
}

static void test_times(void **state)
{
    profile_jwt_config_t hs = hs_config();
    (void)state;
    assert_null(profile_jwt_verify(pool, &hs, hs256(payload()), NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload_at(-31, -900)), NOW, NULL),
                        "token expired");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload_at(-30, -900)), NOW, NULL),
                        "token expired");
    assert_null(profile_jwt_verify(pool, &hs, hs256(payload_at(-10, -900)), NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload_at(900, 60)), NOW, NULL),
                        "token not yet valid");
    assert_null(profile_jwt_verify(pool, &hs, hs256(payload_at(900, 20)), NOW, NULL));
    hs.leeway_s = 0;
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload_at(-1, -900)), NOW, NULL),
                        "token expired");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(payload_at(900, 1)), NOW, NULL),
                        "token not yet valid");
    /* nbf may be absent; exp may not. */
    assert_null(profile_jwt_verify(pool, &hs, hs256(apr_psprintf(
        pool, "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\",\"sub\":\"42\",\"jti\":\"j\","
        "\"exp\":%d}", NOW_S + 60)), NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(
        "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\",\"sub\":\"42\",\"jti\":\"j\"}"), NOW,
        NULL), "missing claims");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(apr_psprintf(
        pool, "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\",\"sub\":\"42\",\"jti\":\"j\","
        "\"exp\":\"%d\"}", NOW_S + 60)), NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(
        "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\",\"sub\":\"42\",\"jti\":\"j\","
        "\"exp\":1e300}"), NOW, NULL), "malformed token");
}

static const char *claims_with(const char *iss_aud, const char *sub_jti)
{
    return apr_psprintf(pool, "{%s%s\"exp\":%d}", iss_aud, sub_jti, NOW_S + 900);
}

static void test_issuer_audience_claims(void **state)
{
    profile_jwt_config_t hs = hs_config();
    const char *ok_ia = "\"iss\":\"mod_profile\",\"aud\":\"profile-api\",";
    const char *ok_sj = "\"sub\":\"42\",\"jti\":\"j\",";
    (void)state;
    assert_null(profile_jwt_verify(pool, &hs, hs256(claims_with(ok_ia, ok_sj)), NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"iss\":\"someone-else\",\"aud\":\"profile-api\",", ok_sj)), NOW, NULL), "wrong issuer");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"aud\":\"profile-api\",", ok_sj)), NOW, NULL), "wrong issuer");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"iss\":\"mod_profile\",\"aud\":\"other-api\",", ok_sj)), NOW, NULL), "wrong audience");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"iss\":\"mod_profile\",", ok_sj)), NOW, NULL), "wrong audience");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"iss\":\"mod_profile\",\"aud\":[\"a\",\"b\"],", ok_sj)), NOW, NULL), "wrong audience");
    assert_null(profile_jwt_verify(pool, &hs, hs256(claims_with(
        "\"iss\":\"mod_profile\",\"aud\":[\"a\",\"profile-api\"],", ok_sj)), NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(ok_ia, "\"jti\":\"j\",")),
                                           NOW, NULL), "missing claims");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(ok_ia, "\"sub\":\"42\",")),
                                           NOW, NULL), "missing claims");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        ok_ia, "\"sub\":42,\"jti\":\"j\",")), NOW, NULL), "missing claims");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256(claims_with(
        ok_ia, "\"sub\":\"\",\"jti\":\"j\",")), NOW, NULL), "missing claims");
}

static void test_header_checks(void **state)
{
    profile_jwt_config_t hs = hs_config();
    (void)state;
    assert_null(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"HS256\"}", payload(),
                                                    EVP_sha256(), secret, strlen(secret)),
                                   NOW, NULL));
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"HS256\",\"typ\":"
                                                            "\"at+jwt\"}", payload(), EVP_sha256(),
                                                            secret, strlen(secret)), NOW, NULL),
                        "unexpected token type");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("{\"alg\":\"HS256\",\"crit\":"
                                                            "[\"exp\"]}", payload(), EVP_sha256(),
                                                            secret, strlen(secret)), NOW, NULL),
                        "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, forge("[\"HS256\"]", payload(), EVP_sha256(),
                                                            secret, strlen(secret)), NOW, NULL),
                        "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256("[1,2]"), NOW, NULL),
                        "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, hs256("not json"), NOW, NULL),
                        "malformed token");
}

static void test_size_and_garbage(void **state)
{
    profile_jwt_config_t hs = hs_config();
    char *big = apr_palloc(pool, 9 * 1024 + 1);
    const char *padded;
    (void)state;
    /* A correctly signed 9 KiB token is refused for its size alone. */
    memset(big, 'x', 9 * 1024);
    big[9 * 1024] = '\0';
    padded = hs256(apr_psprintf(pool, "{\"iss\":\"mod_profile\",\"aud\":\"profile-api\","
                                "\"sub\":\"42\",\"jti\":\"j\",\"exp\":%d,\"pad\":\"%s\"}",
                                NOW_S + 900, big + 3000));
    assert_true(strlen(padded) > 8192 && strlen(padded) < 9 * 1024 + 200);
    assert_string_equal(profile_jwt_verify(pool, &hs, padded, NOW, NULL), "token too large");
    assert_string_equal(profile_jwt_verify(pool, &hs, big, NOW, NULL), "token too large");
    big[8192] = '\0';
    assert_string_equal(profile_jwt_verify(pool, &hs, big, NOW, NULL), "malformed token");

    assert_string_equal(profile_jwt_verify(pool, &hs, NULL, NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "", NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "a.b", NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "...", NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "..", NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "a.b.c", NOW, NULL), "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "not a token", NOW, NULL),
                        "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, "eyJhbGciOiJIUzI1NiJ9.e30.$$$", NOW, NULL),
                        "bad signature");
    assert_string_equal(profile_jwt_verify(pool, &hs, "eyJhbGciOiJIUzI1NiJ9.e30.", NOW, NULL),
                        "bad signature");
    assert_string_equal(profile_jwt_verify(pool, &hs, "eyJhbGciOiJIUzI1NiJ9.e30!.abc", NOW, NULL),
                        "malformed token");
    assert_string_equal(profile_jwt_verify(pool, &hs, apr_pstrcat(pool, hs256(payload()), ".x",
                                                                  NULL), NOW, NULL),
                        "malformed token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_hs256),
        cmocka_unit_test(test_round_trip_rs256),
        cmocka_unit_test(test_round_trip_es256),
        cmocka_unit_test(test_issue_failures),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256_with_public_key),
        cmocka_unit_test(test_other_algorithms),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_issuer_audience_claims),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_size_and_garbage),
    };
    int rc;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("jwt", tests, setup_keys, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
