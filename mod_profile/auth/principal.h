/* Who a request acts for, once authenticated, and what it may do. */
#ifndef PROFILE_PRINCIPAL_H
#define PROFILE_PRINCIPAL_H

#include <apr_pools.h>
#include <apr_time.h>

/* Scopes are bits; PROFILE_SCOPE_ADMIN implies every other scope. */
#define PROFILE_SCOPE_PROFILES_READ   0x01u
#define PROFILE_SCOPE_PROFILES_WRITE  0x02u
#define PROFILE_SCOPE_SESSIONS_READ   0x04u
#define PROFILE_SCOPE_SESSIONS_WRITE  0x08u
#define PROFILE_SCOPE_COMMENTS_READ   0x10u
#define PROFILE_SCOPE_CACHE_ADMIN     0x20u
#define PROFILE_SCOPE_ADMIN           0x40u
#define PROFILE_SCOPE_ALL             0x7fu

typedef enum {
    PROFILE_ROLE_NONE = 0,
    PROFILE_ROLE_READONLY,
    PROFILE_ROLE_USER,
    PROFILE_ROLE_ADMIN
} profile_role_t;

typedef enum {
    PROFILE_PRINCIPAL_USER,        /* a JWT access token */
    PROFILE_PRINCIPAL_API_KEY,     /* a key from the database */
    PROFILE_PRINCIPAL_STATIC_KEY   /* a ProfileAPIKey from httpd.conf */
} profile_principal_kind_t;

typedef struct {
    profile_principal_kind_t kind;
    const char *name;          /* "user:alice", "key:<key id>", "static:<name>": r->user */
    apr_int64_t user_id;       /* the user, or the key's owner; 0 for static keys */
    const char *username;      /* NULL for static keys */
    profile_role_t role;       /* the user's (or key owner's) role; ADMIN for static admin keys */
    unsigned scopes;           /* effective scopes */
    const char *key_id;        /* API keys only */
    const char *jti;           /* JWTs only */
    const char *session_id;    /* JWTs only: the refresh family the token came from */
    apr_time_t expires;        /* token or key expiry, 0 when none */
    int rate_limit_requests;   /* per-key override, -1 when none */
    int rate_limit_window_s;   /* per-key override, -1 when none */
} profile_principal_t;

/* "profiles:read" ↔ PROFILE_SCOPE_PROFILES_READ … (auth/scopes.c, pure). */
unsigned profile_scope_bit(const char *name);            /* 0 when unknown */
const char *profile_scope_name(unsigned bit);             /* NULL when not exactly one bit */
/* Space- or comma-separated names → bits; *unknown gets the first unknown name (or NULL). */
unsigned profile_scopes_parse(apr_pool_t *p, const char *list, const char **unknown);
/* JSON-ready list of names, in a fixed order. */
const char **profile_scopes_names(apr_pool_t *p, unsigned scopes, int *n);
/* admin → ALL; user → profiles:read, profiles:write, sessions:read, sessions:write,
 * comments:read; readonly → profiles:read, sessions:read, comments:read. */
unsigned profile_role_scopes(profile_role_t role);
profile_role_t profile_role_parse(const char *name);      /* NONE when unknown */
const char *profile_role_name(profile_role_t role);
/* Whether granted covers every bit of needed (ADMIN covers all). */
int profile_scopes_cover(unsigned granted, unsigned needed);

#endif
