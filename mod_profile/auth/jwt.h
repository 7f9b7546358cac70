/* Access tokens: issuing and verifying JWTs with libjwt (pure: no httpd). Verification
 * never lets the token choose the algorithm or the key. */
#ifndef PROFILE_JWT_H
#define PROFILE_JWT_H

#include <apr_pools.h>
#include <apr_time.h>

#define PROFILE_JWT_MAX_BYTES 8192

typedef enum { PROFILE_JWT_HS256, PROFILE_JWT_RS256, PROFILE_JWT_ES256 } profile_jwt_alg_t;

typedef struct {
    profile_jwt_alg_t alg;
    const unsigned char *sign_key;  /* HS: the secret; RS/ES: the private key PEM */
    apr_size_t sign_key_len;
    const unsigned char *verify_key;/* HS: the secret; RS/ES: the public key PEM */
    apr_size_t verify_key_len;
    const char *issuer;
    const char *audience;
    int leeway_s;
    int access_lifetime_s;
} profile_jwt_config_t;

typedef struct {
    const char *sub;           /* user id, decimal */
    const char *username;
    const char *role;          /* "admin" | "user" | "readonly" */
    const char *scopes;        /* space-separated */
    const char *jti;
    const char *sid;           /* refresh family (session) id */
    apr_time_t iat, nbf, exp;
} profile_jwt_claims_t;

/* Signs claims (iat/nbf/exp and jti are filled in when zero/NULL). NULL on failure. */
const char *profile_jwt_issue(apr_pool_t *p, const profile_jwt_config_t *cfg,
                              profile_jwt_claims_t *claims, apr_time_t now);

/* Verifies token: size, exact algorithm (the configured one; "none" and any other refused),
 * signature with the configured key, typ "JWT" when present, exp/nbf with leeway, iss, aud,
 * and the presence of sub and jti. Returns NULL and fills out, or a short reason suitable for
 * error_description ("token expired", "wrong audience", …). */
const char *profile_jwt_verify(apr_pool_t *p, const profile_jwt_config_t *cfg, const char *token,
                               apr_time_t now, profile_jwt_claims_t *out);

#endif
