/* The persistent profile layer (table profiles: one cached answer per canonical username,
 * the same unit as the cache layers) and the live tier (table live_profiles: nickname and
 * avatar seen in live events, written by the capture side). */
#ifndef PROFILE_STORE_PROFILES_H
#define PROFILE_STORE_PROFILES_H

#include "store/store.h"
#include "cache/cache_entry.h"

/* NOT_FOUND when there is no row or it is past stale_until. */
profile_store_rc_t profile_store_profile_get(PGconn *c, apr_pool_t *p, const char *username,
                                             profile_cache_entry_t *out);
/* Insert or replace. */
profile_store_rc_t profile_store_profile_put(PGconn *c, const char *username,
                                             const profile_cache_entry_t *e);
/* *removed: 1 or 0. */
profile_store_rc_t profile_store_profile_delete(PGconn *c, const char *username, int *removed);
/* Rows past expires_at deleted. */
profile_store_rc_t profile_store_profile_clear_expired(PGconn *c, apr_time_t now,
                                                       apr_int64_t *removed);

typedef struct {
    apr_int64_t entries;
    apr_int64_t bytes;         /* sum of body sizes */
    apr_int64_t expired;       /* rows past expires_at */
} profile_store_profile_stats_t;
profile_store_rc_t profile_store_profile_stats(PGconn *c, apr_time_t now,
                                               profile_store_profile_stats_t *out);

/* The live tier. */
typedef struct {
    const char *user_id;       /* NULL when unknown */
    const char *nickname;      /* NULL when unknown */
    const char *avatar_url;    /* http(s) URL */
    apr_time_t seen_at;
} profile_live_seen_t;

/* NOT_FOUND when nothing was seen for username. */
profile_store_rc_t profile_store_live_get(PGconn *c, apr_pool_t *p, const char *username,
                                          profile_live_seen_t *out);
/* Insert or replace (a later seen_at wins; an older one is ignored). */
profile_store_rc_t profile_store_live_put(PGconn *c, const char *username,
                                          const profile_live_seen_t *seen);

#endif
