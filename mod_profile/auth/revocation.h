/* Per-process authentication state of one database: the API key cache and what the revocation
 * feed (store/revocations.h) has said so far. Requests that authenticate catch up with the
 * feed at most once a second (one thread at a time; the others do not wait), so a revoked key,
 * token or user is refused by every process within about 2 s without a lookup per request. */
#ifndef PROFILE_REVOCATION_H
#define PROFILE_REVOCATION_H

#include "profile.h"
#include "auth/jwt.h"
#include "auth/key_cache.h"
#include "store/pg_pool.h"

typedef struct profile_auth_db_t profile_auth_db_t;

/* The state of pool's database, made on first use; NULL when pool is NULL or on failure. */
profile_auth_db_t *profile_auth_db(profile_db_pool_t *pool);
profile_key_cache_t *profile_auth_db_keys(profile_auth_db_t *db);

/* A connection borrowed for a moment instead of for the whole request: the auth front end
 * also guards long proxied requests and WebSocket tunnels. */
typedef struct {
    request_rec rr;            /* r with a short-lived pool the checkout is tied to */
    profile_db_pool_t *pool;
    PGconn *conn;
} profile_auth_conn_t;

/* NULL (and *retry_after_s) when the database is unreachable. */
PGconn *profile_auth_conn_open(profile_auth_conn_t *c, request_rec *r, profile_db_pool_t *pool,
                               int *retry_after_s);
/* After a PROFILE_STORE_ERROR: the connection is closed instead of reused. */
void profile_auth_conn_failed(profile_auth_conn_t *c);
void profile_auth_conn_close(profile_auth_conn_t *c);

/* Catches up with the feed when the last poll is a second old. Returns 1 when the state can
 * be relied on (the feed was read at least once), 0 while this process has never read it. */
int profile_revocation_sync(profile_auth_db_t *db, request_rec *r);

/* 1 when jti was revoked and has not expired yet. */
int profile_revocation_jti_revoked(profile_auth_db_t *db, const char *jti);

/* Whether an access token of user_id was voided (logout everywhere, password or role change,
 * deactivation): 0 valid, 1 void, -1 undecidable now (the database is unreachable; then
 * *retry_after_s is set). */
int profile_revocation_token_void(profile_auth_db_t *db, request_rec *r, apr_int64_t user_id,
                                  const profile_jwt_claims_t *claims, int *retry_after_s);

#endif
