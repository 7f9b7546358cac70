/* Verified access tokens of this process; see token_cache.h. */
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_rwlock.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token_cache.h"
#include "util/malloc_hash.h"

typedef struct {
    const profile_jwt_config_t *cfg;
    profile_jwt_claims_t claims; /* strings point into the same block */
    char token[];
} entry_t;

static apr_thread_rwlock_t *lock;
static apr_hash_t *entries;     /* token → entry_t */

static apr_status_t free_all(void *unused)
{
    (void)unused;
    profile_hash_free_all(entries);
    return APR_SUCCESS;
}

void profile_token_cache_init(apr_pool_t *pchild)
{
    if (apr_thread_rwlock_create(&lock, pchild) != APR_SUCCESS) {
        lock = NULL;
        return;
    }
    entries = apr_hash_make(pchild);
    apr_pool_cleanup_register(pchild, NULL, free_all, apr_pool_cleanup_null);
}

static const char *copy_out(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

int profile_token_cache_get(apr_pool_t *p, const profile_jwt_config_t *cfg, const char *token,
                            apr_time_t now, profile_jwt_claims_t *out)
{
    entry_t *e;
    int hit = 0;

    if (!lock)
        return 0;
    apr_thread_rwlock_rdlock(lock);
    e = apr_hash_get(entries, token, APR_HASH_KEY_STRING);
    if (e && e->cfg == cfg && now < e->claims.exp) {
        hit = 1;
        *out = e->claims;
        out->sub = copy_out(p, e->claims.sub);
        out->username = copy_out(p, e->claims.username);
        out->role = copy_out(p, e->claims.role);
        out->scopes = copy_out(p, e->claims.scopes);
        out->jti = copy_out(p, e->claims.jti);
        out->sid = copy_out(p, e->claims.sid);
    }
    apr_thread_rwlock_unlock(lock);
    return hit;
}

/* Appends s to the block at *at; returns where it went (NULL for NULL). */
static const char *pack(char **at, const char *s)
{
    char *where = *at;
    apr_size_t n;
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    memcpy(where, s, n);
    *at += n;
    return where;
}

static apr_size_t size_of(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Full: expired entries go first; if that is not enough, everything does (bounded memory
 * matters more than keeping warm entries). Call write-locked. */
static void make_room(apr_time_t now)
{
    apr_hash_index_t *hi;
    if (apr_hash_count(entries) < PROFILE_TOKEN_CACHE_MAX)
        return;
    for (hi = apr_hash_first(NULL, entries); hi; hi = apr_hash_next(hi)) {
        entry_t *e = apr_hash_this_val(hi);
        if (now >= e->claims.exp) {
            apr_hash_set(entries, e->token, APR_HASH_KEY_STRING, NULL);
            free(e);
        }
    }
    if (apr_hash_count(entries) >= PROFILE_TOKEN_CACHE_MAX)
        free_all(NULL);
}

void profile_token_cache_put(const profile_jwt_config_t *cfg, const char *token,
                             const profile_jwt_claims_t *claims, apr_time_t now)
{
    apr_size_t tlen = strlen(token) + 1;
    entry_t *e, *old;
    char *at;

    if (!lock || tlen > PROFILE_TOKEN_CACHE_MAX_TOKEN || now >= claims->exp)
        return;
    e = malloc(sizeof(*e) + tlen + size_of(claims->sub) + size_of(claims->username)
               + size_of(claims->role) + size_of(claims->scopes) + size_of(claims->jti)
               + size_of(claims->sid));
    if (!e)
        return;
    e->cfg = cfg;
    e->claims = *claims;
    memcpy(e->token, token, tlen);
    at = e->token + tlen;
    e->claims.sub = pack(&at, claims->sub);
    e->claims.username = pack(&at, claims->username);
    e->claims.role = pack(&at, claims->role);
    e->claims.scopes = pack(&at, claims->scopes);
    e->claims.jti = pack(&at, claims->jti);
    e->claims.sid = pack(&at, claims->sid);

    apr_thread_rwlock_wrlock(lock);
    old = apr_hash_get(entries, token, APR_HASH_KEY_STRING);
    if (old) {
        apr_hash_set(entries, old->token, APR_HASH_KEY_STRING, NULL);
        free(old);
    }
    make_room(now);
    apr_hash_set(entries, e->token, APR_HASH_KEY_STRING, e);
    apr_thread_rwlock_unlock(lock);
}
