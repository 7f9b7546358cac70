/* Validated API keys of this process; see key_cache.h. Entries are single malloc'd blocks
 * (struct plus strings) so evicting one frees it entirely; the hash table reuses its nodes. */
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#include "auth/key_cache.h"
#include "util/malloc_hash.h"

typedef struct {
    char hash_hex[65];
    profile_key_t key;         /* strings point into the same block */
    apr_time_t stale_at;       /* when the entry must be checked against the database again */
    apr_time_t touched_at;     /* last_used_at as last written */
} cache_entry_t;

struct profile_key_cache_t {
    apr_thread_mutex_t *lock;
    apr_hash_t *entries;       /* hash_hex → cache_entry_t */
    apr_uint64_t generation;   /* bumped by every drop */
};

static apr_status_t free_entries(void *data)
{
    profile_key_cache_t *c = data;
    profile_hash_free_all(c->entries);
    return APR_SUCCESS;
}

profile_key_cache_t *profile_key_cache_create(apr_pool_t *p)
{
    profile_key_cache_t *c = apr_pcalloc(p, sizeof(*c));
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS)
        return NULL;
    c->entries = apr_hash_make(p);
    apr_pool_cleanup_register(p, c, free_entries, apr_pool_cleanup_null);
    return c;
}

static apr_size_t len0(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *put_str(char **at, const char *s)
{
    char *out;
    if (!s)
        return NULL;
    out = *at;
    memcpy(out, s, strlen(s) + 1);
    *at += strlen(s) + 1;
    return out;
}

static cache_entry_t *entry_new(const char *hash_hex, const profile_key_t *key)
{
    apr_size_t extra = len0(key->id) + len0(key->owner_username) + len0(key->name);
    cache_entry_t *e = malloc(sizeof(*e) + extra);
    char *at;
    if (!e)
        return NULL;
    at = (char *)(e + 1);
    apr_cpystrn(e->hash_hex, hash_hex, sizeof(e->hash_hex));
    e->key = *key;
    e->key.id = put_str(&at, key->id);
    e->key.owner_username = put_str(&at, key->owner_username);
    e->key.name = put_str(&at, key->name);
    return e;
}

static void entry_remove(profile_key_cache_t *c, cache_entry_t *e)
{
    apr_hash_set(c->entries, e->hash_hex, APR_HASH_KEY_STRING, NULL);
    free(e);
}

int profile_key_cache_get(profile_key_cache_t *c, apr_pool_t *p, const char *hash_hex,
                          apr_time_t now, profile_key_t *out, int *touch)
{
    cache_entry_t *e;
    int hit = 0;

    *touch = 0;
    apr_thread_mutex_lock(c->lock);
    e = apr_hash_get(c->entries, hash_hex, APR_HASH_KEY_STRING);
    if (e && now >= e->stale_at) {
        entry_remove(c, e);
        e = NULL;
    }
    if (e) {
        hit = 1;
        *out = e->key;
        out->id = apr_pstrdup(p, e->key.id);
        out->owner_username = apr_pstrdup(p, e->key.owner_username);
        out->name = apr_pstrdup(p, e->key.name);
        if (now - e->touched_at >= PROFILE_KEY_TOUCH_INTERVAL) {
            e->touched_at = now;
            *touch = 1;
        }
    }
    apr_thread_mutex_unlock(c->lock);
    return hit;
}

apr_uint64_t profile_key_cache_generation(profile_key_cache_t *c)
{
    apr_uint64_t g;
    apr_thread_mutex_lock(c->lock);
    g = c->generation;
    apr_thread_mutex_unlock(c->lock);
    return g;
}

/* Makes room for one more entry: expired ones first, else any one. Call locked. */
static void make_room(profile_key_cache_t *c, apr_time_t now)
{
    apr_hash_index_t *hi;
    if (apr_hash_count(c->entries) < PROFILE_KEY_CACHE_MAX)
        return;
    for (hi = apr_hash_first(NULL, c->entries); hi; hi = apr_hash_next(hi)) {
        cache_entry_t *e = apr_hash_this_val(hi);
        if (now >= e->stale_at)
            entry_remove(c, e);
    }
    hi = apr_hash_first(NULL, c->entries);
    if (apr_hash_count(c->entries) >= PROFILE_KEY_CACHE_MAX && hi)
        entry_remove(c, apr_hash_this_val(hi));
}

void profile_key_cache_put(profile_key_cache_t *c, apr_uint64_t generation, const char *hash_hex,
                           const profile_key_t *key, apr_time_t now, apr_time_t touched_at)
{
    cache_entry_t *e = entry_new(hash_hex, key), *old;
    if (!e)
        return;
    /* Never trusted past the key's expiry or the end of a rotation's grace period: which of
     * the two secrets matched is the database's to say again then. */
    e->stale_at = now + PROFILE_KEY_CACHE_TTL;
    if (key->expires_at && key->expires_at < e->stale_at)
        e->stale_at = key->expires_at;
    if (key->previous_valid_until > now && key->previous_valid_until < e->stale_at)
        e->stale_at = key->previous_valid_until;
    e->touched_at = touched_at;
    apr_thread_mutex_lock(c->lock);
    if (generation != c->generation) {
        apr_thread_mutex_unlock(c->lock);
        free(e);
        return;
    }
    old = apr_hash_get(c->entries, hash_hex, APR_HASH_KEY_STRING);
    if (old)
        entry_remove(c, old);
    make_room(c, now);
    apr_hash_set(c->entries, e->hash_hex, APR_HASH_KEY_STRING, e);
    apr_thread_mutex_unlock(c->lock);
}

/* Removes the entries matching (key_id, or user_id when key_id is NULL; everything when both
 * are unset) and bumps the generation. */
static void drop(profile_key_cache_t *c, const char *key_id, apr_int64_t user_id)
{
    apr_hash_index_t *hi;
    apr_thread_mutex_lock(c->lock);
    c->generation++;
    for (hi = apr_hash_first(NULL, c->entries); hi; hi = apr_hash_next(hi)) {
        cache_entry_t *e = apr_hash_this_val(hi);
        if (key_id ? !strcmp(e->key.id, key_id) : (!user_id || e->key.user_id == user_id))
            entry_remove(c, e);
    }
    apr_thread_mutex_unlock(c->lock);
}

void profile_key_cache_drop_key(profile_key_cache_t *c, const char *key_id)
{
    drop(c, key_id, 0);
}

void profile_key_cache_drop_user(profile_key_cache_t *c, apr_int64_t user_id)
{
    if (user_id)
        drop(c, NULL, user_id);
}

void profile_key_cache_clear(profile_key_cache_t *c)
{
    drop(c, NULL, 0);
}
