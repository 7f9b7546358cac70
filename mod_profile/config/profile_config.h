/* Settings of the profile read path: scraper, cache and avatar tiers. Server-level; the
 * shared-memory sizes and the upstream limits are read from the main server only (one cache
 * and one breaker per httpd). Unset: PROFILE_UNSET / NULL, defaults in the getters. */
#ifndef PROFILE_PROFILE_CONFIG_H
#define PROFILE_PROFILE_CONFIG_H

#include <apr_pools.h>
#include <httpd.h>
#include <http_config.h>
#include "profiles/profile_json.h"

#define PROFILE_DEFAULT_TIKTOK_BASE_URL "https://www.tiktok.com"
#define PROFILE_DEFAULT_SCRAPE_TIMEOUT_S 5
#define PROFILE_DEFAULT_SCRAPE_MAX_PAGE (2 * 1024 * 1024)
#define PROFILE_DEFAULT_SCRAPE_CONCURRENCY 8
#define PROFILE_DEFAULT_BREAKER_FAILURES 5
#define PROFILE_DEFAULT_BREAKER_COOLDOWN_S 30
#define PROFILE_DEFAULT_CACHE_TTL_S 300
#define PROFILE_DEFAULT_CACHE_STALE_S 86400
#define PROFILE_DEFAULT_CACHE_NEGATIVE_TTL_S 60
#define PROFILE_DEFAULT_CACHE_MAX_ENTRIES 1000
#define PROFILE_DEFAULT_CACHE_MAX_MEMORY_MB 100

typedef struct {
    const char *tiktok_base_url;   /* ProfileTikTokBaseURL http(s)://host[:port][/path] */
    int scrape_timeout_s;          /* ProfileScrapeTimeout 1..60 */
    apr_off_t scrape_max_page;     /* ProfileScrapeMaxPage 64K..64M */
    int scrape_concurrency;        /* ProfileScrapeConcurrency 1..256 (per httpd) */
    int breaker_failures;          /* ProfileScrapeBreaker <failures 1..1000> <cooldown s 1..3600> */
    int breaker_cooldown_s;
    const char *scrape_user_agent; /* ProfileScrapeUserAgent */
    int cache_ttl_s;               /* ProfileCacheTTL 1..604800 */
    int cache_stale_s;             /* ProfileCacheStaleTTL 0..2592000 (0: never serve stale) */
    int cache_negative_ttl_s;      /* ProfileCacheNegativeTTL 1..86400: not-found answers and
                                      answers made without the scraper */
    int cache_max_entries;         /* ProfileCacheMaxEntries 16..1000000 */
    int cache_max_memory_mb;       /* ProfileCacheMaxMemory 1..65536 (MB) */
    int avatar_tiers[PROFILE_TIER_COUNT]; /* ProfileAvatarTiers, in order of preference */
    int n_avatar_tiers;            /* 0 when unset */
    const char *public_url;        /* ProfilePublicURL: prefix of generated avatar URLs */
} profile_profiles_config_t;

void profile_profiles_config_init(profile_profiles_config_t *c);
void profile_profiles_config_merge(const profile_profiles_config_t *base,
                                   const profile_profiles_config_t *add,
                                   profile_profiles_config_t *out);

const char *profile_tiktok_base_url(const profile_profiles_config_t *c);
int profile_scrape_timeout_ms(const profile_profiles_config_t *c);
apr_off_t profile_scrape_max_page(const profile_profiles_config_t *c);
int profile_scrape_concurrency(const profile_profiles_config_t *c);
int profile_breaker_failures(const profile_profiles_config_t *c);
int profile_breaker_cooldown_s(const profile_profiles_config_t *c);
const char *profile_scrape_user_agent(const profile_profiles_config_t *c);
int profile_cache_ttl_s(const profile_profiles_config_t *c);
int profile_cache_stale_s(const profile_profiles_config_t *c);
int profile_cache_negative_ttl_s(const profile_profiles_config_t *c);
int profile_cache_max_entries(const profile_profiles_config_t *c);
apr_uint64_t profile_cache_max_memory(const profile_profiles_config_t *c); /* bytes */
/* The tiers to try, in order (default live scraper generator initials); *n gets the count. */
const int *profile_avatar_tiers(const profile_profiles_config_t *c, int *n);
/* "" when unset: avatar URLs are then root-relative ("/avatars/…"). */
const char *profile_public_url(const profile_profiles_config_t *c);

/* Directive handlers. */
const char *profile_set_tiktok_base_url(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_scrape_timeout(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_scrape_max_page(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_scrape_concurrency(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_scrape_breaker(cmd_parms *cmd, void *d, const char *failures,
                                       const char *cooldown);
const char *profile_set_scrape_user_agent(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_cache_ttl(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_cache_stale_ttl(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_cache_negative_ttl(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_cache_max_entries(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_cache_max_memory(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_avatar_tiers(cmd_parms *cmd, void *d, int argc, char *const argv[]);
const char *profile_set_public_url(cmd_parms *cmd, void *d, const char *arg);

#define PROFILE_PROFILES_DIRECTIVES \
    AP_INIT_TAKE1("ProfileTikTokBaseURL", profile_set_tiktok_base_url, NULL, RSRC_CONF, \
        "http(s)://host[:port][/path] profile pages are fetched from (default " \
        "https://www.tiktok.com)"), \
    AP_INIT_TAKE1("ProfileScrapeTimeout", profile_set_scrape_timeout, NULL, RSRC_CONF, \
        "seconds a profile page fetch may take in all, 1..60 (default 5)"), \
    AP_INIT_TAKE1("ProfileScrapeMaxPage", profile_set_scrape_max_page, NULL, RSRC_CONF, \
        "largest profile page read, bytes with K/M suffix, 64K..64M (default 2M)"), \
    AP_INIT_TAKE1("ProfileScrapeConcurrency", profile_set_scrape_concurrency, NULL, RSRC_CONF, \
        "profile page fetches running at once in the whole server, 1..256 (default 8)"), \
    AP_INIT_TAKE2("ProfileScrapeBreaker", profile_set_scrape_breaker, NULL, RSRC_CONF, \
        "<failures> <cooldown-seconds>: consecutive failures that stop fetching for a while " \
        "(default 5 30)"), \
    AP_INIT_TAKE1("ProfileScrapeUserAgent", profile_set_scrape_user_agent, NULL, RSRC_CONF, \
        "User-Agent of profile page fetches"), \
    AP_INIT_TAKE1("ProfileCacheTTL", profile_set_cache_ttl, NULL, RSRC_CONF, \
        "seconds a profile stays fresh, 1..604800 (default 300)"), \
    AP_INIT_TAKE1("ProfileCacheStaleTTL", profile_set_cache_stale_ttl, NULL, RSRC_CONF, \
        "seconds after expiry an entry is still served, stale, while it is refreshed, " \
        "0..2592000 (default 86400)"), \
    AP_INIT_TAKE1("ProfileCacheNegativeTTL", profile_set_cache_negative_ttl, NULL, RSRC_CONF, \
        "seconds not-found answers and answers made without the scraper are kept, 1..86400 " \
        "(default 60)"), \
    AP_INIT_TAKE1("ProfileCacheMaxEntries", profile_set_cache_max_entries, NULL, RSRC_CONF, \
        "profiles in the shared cache, 16..1000000 (default 1000)"), \
    AP_INIT_TAKE1("ProfileCacheMaxMemory", profile_set_cache_max_memory, NULL, RSRC_CONF, \
        "megabytes of the shared cache, 1..65536 (default 100)"), \
    AP_INIT_TAKE_ARGV("ProfileAvatarTiers", profile_set_avatar_tiers, NULL, RSRC_CONF, \
        "avatar sources in order of preference: live scraper generator initials (default all)"), \
    AP_INIT_TAKE1("ProfilePublicURL", profile_set_public_url, NULL, RSRC_CONF, \
        "http(s)://host[:port][/path] clients reach the API at, for generated avatar URLs")

#endif
