/* The profile answer's JSON. Cached answers are stored as rendered text without the final
 * "stale" member, so a hit is a copy plus `,"stale":false}` and never a JSON encode. Pure. */
#ifndef PROFILE_PROFILE_JSON_H
#define PROFILE_PROFILE_JSON_H

#include <apr_pools.h>
#include <apr_time.h>
#include "profiles/page_parse.h"

/* Where the avatar came from, in order of preference. */
typedef enum {
    PROFILE_TIER_LIVE = 0,
    PROFILE_TIER_SCRAPER,
    PROFILE_TIER_GENERATOR,
    PROFILE_TIER_INITIALS,
    PROFILE_TIER_COUNT
} profile_tier_t;

/* "live", "scraper", "generator", "initials"; NULL out of range. */
const char *profile_tier_name(int tier);
/* The tier named name, or -1. */
int profile_tier_parse(const char *name);

typedef struct {
    const char *username;          /* canonical name (used when user.unique_id is NULL) */
    profile_tiktok_user_t user;    /* unknown fields render as null */
    int tier;                      /* profile_tier_t of the avatar */
    const char *avatar_url;        /* the main avatar URL ("url"): the large one */
    const char *avatar_thumb;
    const char *avatar_medium;
    const char *avatar_large;
    apr_time_t fetched_at;
    apr_time_t expires_at;
} profile_view_t;

/* {"username","user_id","nickname","bio","verified","private",
 *  "avatar":{"url","source","thumb","medium","large"},
 *  "stats":{"followers","following","likes","videos"},"fetched_at","expires_at"
 * — without the closing brace. *len gets strlen of the result. Times are ISO 8601 UTC with
 * seconds ("2026-11-24T10:00:00Z"). */
const char *profile_json_render(apr_pool_t *p, const profile_view_t *v, apr_size_t *len);

/* The full answer: body + ,"stale":true|false} */
const char *profile_json_finish(apr_pool_t *p, const char *body, apr_size_t len, int stale,
                                apr_size_t *out_len);

#endif
