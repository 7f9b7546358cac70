/* One cached profile answer, the unit every cache layer (shared memory, Redis, PostgreSQL)
 * stores. Pure: a compact text serialisation for Redis and the ETag. */
#ifndef PROFILE_CACHE_ENTRY_H
#define PROFILE_CACHE_ENTRY_H

#include <apr_pools.h>
#include <apr_time.h>

/* Largest body a layer stores (page_parse bounds every field, so real profiles stay far
 * below it); a bigger one is answered but not cached. */
#define PROFILE_CACHE_BODY_MAX 8192
/* Longest key (canonical username). */
#define PROFILE_CACHE_KEY_MAX 24

typedef struct {
    int status;                /* 200, or 404 for a user TikTok does not know (negative entry) */
    int tier;                  /* profile_tier_t of a 200; -1 for a 404 */
    apr_time_t fetched_at;
    apr_time_t expires_at;     /* fresh until then */
    apr_time_t stale_until;    /* after expires_at: served stale (and refreshed) until then */
    apr_uint64_t etag;         /* profile_cache_etag(body) */
    const char *body;          /* 200: profile_json_render text; 404: "" */
    apr_size_t body_len;
} profile_cache_entry_t;

/* FNV-1a 64 of the body, never 0. */
apr_uint64_t profile_cache_etag(const char *body, apr_size_t len);

/* "v1 <status> <tier> <fetched_us> <expires_us> <stale_us> <etag hex>\n<body>" */
const char *profile_cache_entry_encode(apr_pool_t *p, const profile_cache_entry_t *e,
                                       apr_size_t *len);
/* 0, or -1 when data is not an encode() result (body copied into p). */
int profile_cache_entry_decode(apr_pool_t *p, const char *data, apr_size_t len,
                               profile_cache_entry_t *e);

#endif
