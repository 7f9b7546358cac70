/* API keys. Only SHA-256 hashes of keys are stored. */
#ifndef PROFILE_STORE_KEYS_H
#define PROFILE_STORE_KEYS_H

#include "store/store.h"
#include "auth/principal.h"

typedef struct {
    const char *id;            /* the public id inside the key */
    apr_int64_t user_id;       /* owner */
    const char *owner_username;
    profile_role_t owner_role;
    int owner_active;
    const char *name;
    unsigned scopes;
    apr_time_t expires_at;     /* 0: never */
    int rate_limit_requests;   /* -1: none */
    int rate_limit_window_s;   /* -1: none */
    apr_time_t created_at, last_used_at, revoked_at;
    apr_time_t previous_valid_until; /* after a rotation, until when the old secret works */
} profile_key_t;

profile_store_rc_t profile_keys_create(PGconn *c, const char *id, apr_int64_t user_id,
                                       const char *name, const char *secret_hash, unsigned scopes,
                                       apr_time_t expires_at, int rl_requests, int rl_window_s);
/* The key with this id whose current hash, or previous hash still within its grace period,
 * equals secret_hash; NOT_FOUND otherwise (also when revoked). Expiry and the owner's state
 * are returned for the caller to judge. */
profile_store_rc_t profile_keys_lookup(PGconn *c, apr_pool_t *p, const char *id,
                                       const char *secret_hash, profile_key_t *out);
profile_store_rc_t profile_keys_get(PGconn *c, apr_pool_t *p, const char *id, profile_key_t *out);
/* user_id 0 lists every key (admins). Newest first, at most 1000. */
profile_store_rc_t profile_keys_list(PGconn *c, apr_pool_t *p, apr_int64_t user_id,
                                     apr_array_header_t **out /* of profile_key_t */);
/* Revokes (idempotent: NOT_FOUND only for an unknown id). Records a key revocation. */
profile_store_rc_t profile_keys_revoke(PGconn *c, const char *id);
/* New secret; the previous one stays valid for grace_s seconds. */
profile_store_rc_t profile_keys_rotate(PGconn *c, const char *id, const char *new_secret_hash,
                                       int grace_s);
/* Revokes every key of a user (deactivation). */
profile_store_rc_t profile_keys_revoke_user(PGconn *c, apr_int64_t user_id);
/* Writes last_used_at (called at most once a minute per key per process). */
profile_store_rc_t profile_keys_touch(PGconn *c, const char *id, apr_time_t used_at);

#endif
