/* The users table. */
#ifndef PROFILE_STORE_USERS_H
#define PROFILE_STORE_USERS_H

#include "store/store.h"
#include "auth/principal.h"

typedef struct {
    apr_int64_t id;
    const char *username;
    const char *email;
    const char *password_hash;  /* PHC string; never leaves the module */
    profile_role_t role;
    int active;
    apr_time_t created_at, updated_at;
    apr_time_t tokens_valid_after; /* tokens issued before this are void (logout all, deactivate) */
} profile_user_t;

/* Insert; *conflict_field gets "username" or "email" on PROFILE_STORE_CONFLICT
 * (both compared case-insensitively). */
profile_store_rc_t profile_users_create(PGconn *c, apr_pool_t *p, const char *username,
                                        const char *email, const char *password_hash,
                                        profile_role_t role, profile_user_t *out,
                                        const char **conflict_field);
profile_store_rc_t profile_users_get(PGconn *c, apr_pool_t *p, apr_int64_t id, profile_user_t *out);
/* By username or email, case-insensitively. */
profile_store_rc_t profile_users_find_login(PGconn *c, apr_pool_t *p, const char *name,
                                            profile_user_t *out);
profile_store_rc_t profile_users_set_password(PGconn *c, apr_int64_t id, const char *password_hash);
/* Any of email / role / active may be NULL / PROFILE_ROLE_NONE / -1 for "unchanged". */
profile_store_rc_t profile_users_update(PGconn *c, apr_pool_t *p, apr_int64_t id, const char *email,
                                        profile_role_t role, int active, profile_user_t *out,
                                        const char **conflict_field);
/* tokens_valid_after = now(): every access token of the user issued before is void. */
profile_store_rc_t profile_users_void_tokens(PGconn *c, apr_int64_t id);

typedef struct {
    const char *q;             /* substring of username or email, NULL for any */
    profile_role_t role;       /* NONE for any */
    int active;                /* -1 for any */
    apr_int64_t after_id;      /* cursor: ids greater than this */
    int limit;                 /* 1..100 */
} profile_users_query_t;
/* Ordered by id; *next_cursor is 0 when there is no further page. */
profile_store_rc_t profile_users_list(PGconn *c, apr_pool_t *p, const profile_users_query_t *q,
                                      apr_array_header_t **users /* of profile_user_t */,
                                      apr_int64_t *next_cursor);

#endif
