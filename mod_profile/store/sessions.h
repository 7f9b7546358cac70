/* Login sessions: one refresh-token family per login. Each refresh rotates the token; only
 * SHA-256 hashes of refresh tokens are stored. */
#ifndef PROFILE_STORE_SESSIONS_H
#define PROFILE_STORE_SESSIONS_H

#include "store/store.h"

typedef struct {
    const char *id;            /* family id, 32 hex */
    apr_int64_t user_id;
    apr_time_t created_at, last_used_at, expires_at, revoked_at;
    const char *ip, *user_agent;
} profile_session_t;

/* New family with its first refresh token (hash), expiring at expires_at. */
profile_store_rc_t profile_sessions_create(PGconn *c, const char *family_id, apr_int64_t user_id,
                                           const char *token_hash, apr_time_t expires_at,
                                           const char *ip, const char *user_agent);

typedef enum {
    PROFILE_REFRESH_ROTATED,   /* ok: the old token is spent, new_hash is the family's current */
    PROFILE_REFRESH_UNKNOWN,   /* no such token, or expired, or the family is revoked */
    PROFILE_REFRESH_REUSED     /* an already rotated token: the whole family is now revoked */
} profile_refresh_result_t;

/* Atomically (one transaction, row lock): looks token_hash up; if it is the family's live
 * token, marks it used, stores new_hash as the live token with new_expires_at and touches
 * last_used/ip/user_agent; if it was already rotated, revokes the family. *user_id and
 * *family_id are set for ROTATED and REUSED. */
profile_store_rc_t profile_sessions_rotate(PGconn *c, apr_pool_t *p, const char *token_hash,
                                           const char *new_hash, apr_time_t new_expires_at,
                                           const char *ip, const char *user_agent,
                                           profile_refresh_result_t *result,
                                           apr_int64_t *user_id, const char **family_id);
/* Revokes one family of the user (NOT_FOUND when it isn't the user's or already revoked). */
profile_store_rc_t profile_sessions_revoke(PGconn *c, apr_int64_t user_id, const char *family_id);
profile_store_rc_t profile_sessions_revoke_all(PGconn *c, apr_int64_t user_id);
/* Active (not revoked, not expired) families of the user, newest first, at most 100. */
profile_store_rc_t profile_sessions_list(PGconn *c, apr_pool_t *p, apr_int64_t user_id,
                                         apr_array_header_t **out /* of profile_session_t */);

#endif
