/* Server-wide profile and cache counters in shared memory (kept across graceful restarts):
 * answers by source, upstream fetch outcomes with a latency histogram, avatar tiers. */
#ifndef PROFILE_CACHE_STATS_H
#define PROFILE_CACHE_STATS_H

#include <jansson.h>
#include "profile.h"

typedef enum {
    PROFILE_CS_HIT = 0,        /* fresh answer from the cache layer */
    PROFILE_CS_STALE,          /* expired entry served while a refresh runs */
    PROFILE_CS_MISS,           /* not in the cache layer */
    PROFILE_CS_DB_HIT,         /* a miss answered from PostgreSQL */
    PROFILE_CS_COALESCED,      /* a miss answered by another request's fetch (single flight) */
    PROFILE_CS_UPSTREAM_OK,    /* scraper fetches that gave a profile or a not-found */
    PROFILE_CS_UPSTREAM_FAILED,/* timeouts, 429s, captcha pages, malformed JSON, … */
    PROFILE_CS_UPSTREAM_SKIPPED,/* not tried: circuit open or concurrency cap reached */
    PROFILE_CS_REFRESHES,      /* background refreshes run (stale entries and jobs) */
    PROFILE_CS_COUNT
} profile_cache_counter_t;

/* post_config. */
apr_status_t profile_cache_stats_setup(server_rec *s);

void profile_cache_count(profile_cache_counter_t c);
/* An answer whose avatar came from tier (profile_tier_t). */
void profile_cache_count_tier(int tier);
/* Duration of one upstream fetch (any outcome). */
void profile_cache_upstream_ms(apr_int64_t ms);

/* {"hits","misses","stale","db_hits","coalesced","hit_ratio","refreshes",
 *  "upstream":{"ok","failed","skipped","median_ms"},
 *  "tiers":{"live","scraper","generator","initials"}}; hit_ratio = (hits + stale) /
 * (hits + stale + misses), 0 when there were none; median_ms null before any fetch. */
json_t *profile_cache_stats_json(void);

#endif
