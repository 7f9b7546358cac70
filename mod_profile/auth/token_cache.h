/* Per-process cache of verified access tokens. A token string that passed profile_jwt_verify
 * under a configuration needs no second signature check under the same one until it expires;
 * revocation checks still run on every request. */
#ifndef PROFILE_TOKEN_CACHE_H
#define PROFILE_TOKEN_CACHE_H

#include <apr_pools.h>
#include "auth/jwt.h"

#define PROFILE_TOKEN_CACHE_MAX 4096       /* entries per process */
#define PROFILE_TOKEN_CACHE_MAX_TOKEN 2048 /* longer tokens are verified every time */

/* child_init; without it the cache stays empty and every token is verified. */
void profile_token_cache_init(apr_pool_t *pchild);

/* 1 with *out (strings copied into p) when token was verified under cfg and has not expired. */
int profile_token_cache_get(apr_pool_t *p, const profile_jwt_config_t *cfg, const char *token,
                            apr_time_t now, profile_jwt_claims_t *out);

/* Remembers a token that cfg has just verified, until its exp. */
void profile_token_cache_put(const profile_jwt_config_t *cfg, const char *token,
                             const profile_jwt_claims_t *claims, apr_time_t now);

#endif
