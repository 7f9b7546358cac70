/* Issuing and verifying access tokens; see jwt.h. libjwt checks the signature; everything the
 * token could use to choose how it is checked (alg, typ, crit) is checked here first, and the
 * claims are read from the very payload bytes whose signature libjwt verified. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"

/* NumericDate values beyond year 9999 are refused before converting them to apr_time_t. */
#define JWT_MAX_DATE 253402300799.0

static const struct {
    const char *name;
    jwt_alg_t alg;
} algs[] = {
    [PROFILE_JWT_HS256] = { "HS256", JWT_ALG_HS256 },
    [PROFILE_JWT_RS256] = { "RS256", JWT_ALG_RS256 },
    [PROFILE_JWT_ES256] = { "ES256", JWT_ALG_ES256 },
};

static int alg_known(profile_jwt_alg_t alg)
{
    return alg == PROFILE_JWT_HS256 || alg == PROFILE_JWT_RS256 || alg == PROFILE_JWT_ES256;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Unpadded base64url of s[0..n) into a pool buffer; NULL when s is not valid base64url. */
static unsigned char *b64url_decode(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t *len)
{
    unsigned char *out;
    apr_uint32_t acc = 0;
    apr_size_t i, o = 0;
    int bits = 0;

    if (n % 4 == 1)
        return NULL;
    out = apr_palloc(p, n * 3 / 4 + 1);
    for (i = 0; i < n; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return NULL;
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* A base64url segment holding a JSON object; NULL when it is anything else. */
static json_t *segment_json(apr_pool_t *p, const char *s, apr_size_t n)
{
    apr_size_t len;
    unsigned char *raw = b64url_decode(p, s, n, &len);
    json_t *js;

    if (!raw)
        return NULL;
    js = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    if (js && !json_is_object(js)) {
        json_decref(js);
        return NULL;
    }
    return js;
}

/* The header's verdict: NULL when it asks for exactly the configured algorithm. */
static const char *check_header(const json_t *head, profile_jwt_alg_t alg)
{
    const char *got = json_string_value(json_object_get(head, "alg"));
    const json_t *typ = json_object_get(head, "typ");

    if (!got || strcmp(got, algs[alg].name) != 0)
        return "unexpected algorithm";
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return "unexpected token type";
    /* No header extension is understood, so any critical one makes the token unusable. */
    if (json_object_get(head, "crit"))
        return "malformed token";
    return NULL;
}

/* A NumericDate claim: 1 and *out when present and sane, 0 when absent, -1 when invalid. */
static int date_claim(const json_t *claims, const char *name, apr_time_t *out)
{
    const json_t *v = json_object_get(claims, name);
    double d;

    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    d = json_number_value(v);
    if (d < 0 || d > JWT_MAX_DATE)
        return -1;
    *out = (apr_time_t)(d * APR_USEC_PER_SEC);
    return 1;
}

static const char *string_claim(apr_pool_t *p, const json_t *claims, const char *name)
{
    const char *v = json_string_value(json_object_get(claims, name));
    return v && *v ? apr_pstrdup(p, v) : NULL;
}

static int audience_matches(const json_t *aud, const char *ours)
{
    size_t i;
    const json_t *item;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), ours) == 0;
    if (json_is_array(aud)) {
        json_array_foreach(aud, i, item) {
            if (json_is_string(item) && strcmp(json_string_value(item), ours) == 0)
                return 1;
        }
    }
    return 0;
}

/* The claims' verdict; fills out on success. */
static const char *check_claims(apr_pool_t *p, const profile_jwt_config_t *cfg,
                                const json_t *claims, apr_time_t now,
                                profile_jwt_claims_t *out)
{
    apr_time_t leeway = apr_time_from_sec(cfg->leeway_s > 0 ? cfg->leeway_s : 0);
    apr_time_t exp = 0, nbf = 0, iat = 0;
    int has_exp = date_claim(claims, "exp", &exp), has_nbf = date_claim(claims, "nbf", &nbf);
    int has_iat = date_claim(claims, "iat", &iat);
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    profile_jwt_claims_t c;

    if (has_exp < 0 || has_nbf < 0 || has_iat < 0)
        return "malformed token";
    if (!has_exp)
        return "missing claims";
    if (now >= exp + leeway)
        return "token expired";
    if (has_nbf && now + leeway < nbf)
        return "token not yet valid";
    if (!iss || !cfg->issuer || strcmp(iss, cfg->issuer) != 0)
        return "wrong issuer";
    if (!cfg->audience || !audience_matches(json_object_get(claims, "aud"), cfg->audience))
        return "wrong audience";
    memset(&c, 0, sizeof(c));
    c.sub = string_claim(p, claims, "sub");
    c.jti = string_claim(p, claims, "jti");
    if (!c.sub || !c.jti)
        return "missing claims";
    c.username = string_claim(p, claims, "preferred_username");
    c.role = string_claim(p, claims, "role");
    c.scopes = string_claim(p, claims, "scope");
    c.sid = string_claim(p, claims, "sid");
    c.iat = iat;
    c.nbf = nbf;
    c.exp = exp;
    if (out)
        *out = c;
    return NULL;
}

/* libjwt's signature check of the whole token with the configured key and algorithm. */
static const char *check_signature(const profile_jwt_config_t *cfg, const char *token)
{
    jwt_t *jwt = NULL;
    const char *reason = NULL;

    if (!cfg->verify_key || cfg->verify_key_len == 0 || cfg->verify_key_len > INT_MAX)
        return "bad signature";
    if (jwt_decode(&jwt, token, cfg->verify_key, (int)cfg->verify_key_len) != 0 || !jwt)
        reason = "bad signature";
    else if (jwt_get_alg(jwt) != algs[cfg->alg].alg)
        reason = "unexpected algorithm";
    if (jwt)
        jwt_free(jwt);
    return reason;
}

const char *profile_jwt_verify(apr_pool_t *p, const profile_jwt_config_t *cfg, const char *token,
                               apr_time_t now, profile_jwt_claims_t *out)
{
    const char *dot1, *dot2, *reason;
    json_t *head, *claims;
    apr_size_t len;

    if (!token)
        return "malformed token";
    len = strnlen(token, PROFILE_JWT_MAX_BYTES + 1);
    if (len > PROFILE_JWT_MAX_BYTES)
        return "token too large";
    if (!cfg || !alg_known(cfg->alg))
        return "bad signature";
    dot1 = strchr(token, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return "malformed token";

    head = segment_json(p, token, (apr_size_t)(dot1 - token));
    if (!head)
        return "malformed token";
    reason = check_header(head, cfg->alg);
    json_decref(head);
    if (reason)
        return reason;

    claims = segment_json(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1));
    if (!claims)
        return "malformed token";
    if (dot2[1] == '\0' || !b64url_decode(p, dot2 + 1, strlen(dot2 + 1), &len))
        reason = "bad signature";
    else
        reason = check_signature(cfg, token);
    if (!reason)
        reason = check_claims(p, cfg, claims, now, out);
    json_decref(claims);
    return reason;
}

static const char *random_hex(apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    char *out = apr_palloc(p, 2 * sizeof(raw) + 1);
    apr_size_t i;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xf];
    }
    out[2 * sizeof(raw)] = '\0';
    return out;
}

static int add_string(jwt_t *jwt, const char *name, const char *value)
{
    return value ? jwt_add_grant(jwt, name, value) : 0;
}

const char *profile_jwt_issue(apr_pool_t *p, const profile_jwt_config_t *cfg,
                              profile_jwt_claims_t *claims, apr_time_t now)
{
    jwt_t *jwt = NULL;
    char *encoded = NULL;
    const char *token = NULL;

    if (!cfg || !claims || !alg_known(cfg->alg) || !cfg->sign_key || cfg->sign_key_len == 0
        || cfg->sign_key_len > INT_MAX || !claims->sub)
        return NULL;
    if (!claims->iat)
        claims->iat = now;
    if (!claims->nbf)
        claims->nbf = claims->iat;
    if (!claims->exp)
        claims->exp = claims->iat + apr_time_from_sec(cfg->access_lifetime_s);
    if (!claims->jti && !(claims->jti = random_hex(p)))
        return NULL;

    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_set_alg(jwt, algs[cfg->alg].alg, cfg->sign_key, (int)cfg->sign_key_len) == 0
        && jwt_add_header(jwt, "typ", "JWT") == 0
        && add_string(jwt, "iss", cfg->issuer) == 0
        && add_string(jwt, "aud", cfg->audience) == 0
        && jwt_add_grant(jwt, "sub", claims->sub) == 0
        && jwt_add_grant_int(jwt, "iat", (long)apr_time_sec(claims->iat)) == 0
        && jwt_add_grant_int(jwt, "nbf", (long)apr_time_sec(claims->nbf)) == 0
        && jwt_add_grant_int(jwt, "exp", (long)apr_time_sec(claims->exp)) == 0
        && jwt_add_grant(jwt, "jti", claims->jti) == 0
        && add_string(jwt, "role", claims->role) == 0
        && add_string(jwt, "scope", claims->scopes) == 0
        && add_string(jwt, "preferred_username", claims->username) == 0
        && add_string(jwt, "sid", claims->sid) == 0)
        encoded = jwt_encode_str(jwt);
    if (encoded) {
        token = apr_pstrdup(p, encoded);
        free(encoded);
    }
    jwt_free(jwt);
    return token;
}
