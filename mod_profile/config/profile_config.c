/* Profile read path settings (config/profile_config.h): create/merge, getters with the
 * defaults, and the directive handlers. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "config/config.h"

#define MERGE_INT(field) (add->field != PROFILE_UNSET ? add->field : base->field)
#define MERGE_PTR(field) (add->field ? add->field : base->field)

/* A desktop browser: TikTok answers other agents with a login wall more often. */
#define PROFILE_DEFAULT_SCRAPE_USER_AGENT \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
    "Chrome/131.0.0.0 Safari/537.36"
#define USER_AGENT_MAX 512

void profile_profiles_config_init(profile_profiles_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->scrape_timeout_s = PROFILE_UNSET;
    c->scrape_max_page = PROFILE_UNSET;
    c->scrape_concurrency = PROFILE_UNSET;
    c->breaker_failures = PROFILE_UNSET;
    c->breaker_cooldown_s = PROFILE_UNSET;
    c->cache_ttl_s = PROFILE_UNSET;
    c->cache_stale_s = PROFILE_UNSET;
    c->cache_negative_ttl_s = PROFILE_UNSET;
    c->cache_max_entries = PROFILE_UNSET;
    c->cache_max_memory_mb = PROFILE_UNSET;
}

void profile_profiles_config_merge(const profile_profiles_config_t *base,
                                   const profile_profiles_config_t *add,
                                   profile_profiles_config_t *out)
{
    out->tiktok_base_url = MERGE_PTR(tiktok_base_url);
    out->scrape_timeout_s = MERGE_INT(scrape_timeout_s);
    out->scrape_max_page = MERGE_INT(scrape_max_page);
    out->scrape_concurrency = MERGE_INT(scrape_concurrency);
    /* failures and cooldown are set together by one directive */
    out->breaker_failures = MERGE_INT(breaker_failures);
    out->breaker_cooldown_s = add->breaker_failures != PROFILE_UNSET ? add->breaker_cooldown_s
                                                                     : base->breaker_cooldown_s;
    out->scrape_user_agent = MERGE_PTR(scrape_user_agent);
    out->cache_ttl_s = MERGE_INT(cache_ttl_s);
    out->cache_stale_s = MERGE_INT(cache_stale_s);
    out->cache_negative_ttl_s = MERGE_INT(cache_negative_ttl_s);
    out->cache_max_entries = MERGE_INT(cache_max_entries);
    out->cache_max_memory_mb = MERGE_INT(cache_max_memory_mb);
    if (add->n_avatar_tiers)
        memcpy(out->avatar_tiers, add->avatar_tiers, sizeof(out->avatar_tiers));
    else
        memcpy(out->avatar_tiers, base->avatar_tiers, sizeof(out->avatar_tiers));
    out->n_avatar_tiers = add->n_avatar_tiers ? add->n_avatar_tiers : base->n_avatar_tiers;
    out->public_url = MERGE_PTR(public_url);
}

#define OR_DEFAULT(v, def) ((v) != PROFILE_UNSET ? (v) : (def))

const char *profile_tiktok_base_url(const profile_profiles_config_t *c)
{
    return c->tiktok_base_url ? c->tiktok_base_url : PROFILE_DEFAULT_TIKTOK_BASE_URL;
}

int profile_scrape_timeout_ms(const profile_profiles_config_t *c)
{
    return 1000 * OR_DEFAULT(c->scrape_timeout_s, PROFILE_DEFAULT_SCRAPE_TIMEOUT_S);
}

apr_off_t profile_scrape_max_page(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->scrape_max_page, PROFILE_DEFAULT_SCRAPE_MAX_PAGE);
}

int profile_scrape_concurrency(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->scrape_concurrency, PROFILE_DEFAULT_SCRAPE_CONCURRENCY);
}

int profile_breaker_failures(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->breaker_failures, PROFILE_DEFAULT_BREAKER_FAILURES);
}

int profile_breaker_cooldown_s(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->breaker_cooldown_s, PROFILE_DEFAULT_BREAKER_COOLDOWN_S);
}

const char *profile_scrape_user_agent(const profile_profiles_config_t *c)
{
    return c->scrape_user_agent ? c->scrape_user_agent : PROFILE_DEFAULT_SCRAPE_USER_AGENT;
}

int profile_cache_ttl_s(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->cache_ttl_s, PROFILE_DEFAULT_CACHE_TTL_S);
}

int profile_cache_stale_s(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->cache_stale_s, PROFILE_DEFAULT_CACHE_STALE_S);
}

int profile_cache_negative_ttl_s(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->cache_negative_ttl_s, PROFILE_DEFAULT_CACHE_NEGATIVE_TTL_S);
}

int profile_cache_max_entries(const profile_profiles_config_t *c)
{
    return OR_DEFAULT(c->cache_max_entries, PROFILE_DEFAULT_CACHE_MAX_ENTRIES);
}

apr_uint64_t profile_cache_max_memory(const profile_profiles_config_t *c)
{
    return (apr_uint64_t)OR_DEFAULT(c->cache_max_memory_mb, PROFILE_DEFAULT_CACHE_MAX_MEMORY_MB)
           * 1024 * 1024;
}

const int *profile_avatar_tiers(const profile_profiles_config_t *c, int *n)
{
    static const int all[] = { PROFILE_TIER_LIVE, PROFILE_TIER_SCRAPER, PROFILE_TIER_GENERATOR,
                               PROFILE_TIER_INITIALS };
    if (!c->n_avatar_tiers) {
        *n = PROFILE_TIER_COUNT;
        return all;
    }
    *n = c->n_avatar_tiers;
    return c->avatar_tiers;
}

const char *profile_public_url(const profile_profiles_config_t *c)
{
    return c->public_url ? c->public_url : "";
}

/* ---- directive handlers ---- */

static profile_profiles_config_t *profiles_conf(cmd_parms *cmd)
{
    return &profile_server_config(cmd->server)->profiles;
}

#define INT_DIRECTIVE(fn, field, min, max) \
    const char *fn(cmd_parms *cmd, void *d, const char *arg) \
    { \
        (void)d; \
        return profile_directive_int(cmd, arg, min, max, &profiles_conf(cmd)->field); \
    }

INT_DIRECTIVE(profile_set_scrape_timeout, scrape_timeout_s, 1, 60)
INT_DIRECTIVE(profile_set_scrape_concurrency, scrape_concurrency, 1, 256)
INT_DIRECTIVE(profile_set_cache_ttl, cache_ttl_s, 1, 604800)
INT_DIRECTIVE(profile_set_cache_stale_ttl, cache_stale_s, 0, 2592000)
INT_DIRECTIVE(profile_set_cache_negative_ttl, cache_negative_ttl_s, 1, 86400)
INT_DIRECTIVE(profile_set_cache_max_entries, cache_max_entries, 16, 1000000)
INT_DIRECTIVE(profile_set_cache_max_memory, cache_max_memory_mb, 1, 65536)

static const char *set_url(cmd_parms *cmd, const char *arg, const char **field)
{
    const char *err = profile_parse_web_url(cmd->pool, arg, field);
    return err ? profile_directive_fail(cmd, err) : NULL;
}

const char *profile_set_tiktok_base_url(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_url(cmd, arg, &profiles_conf(cmd)->tiktok_base_url);
}

const char *profile_set_public_url(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_url(cmd, arg, &profiles_conf(cmd)->public_url);
}

const char *profile_set_scrape_max_page(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = profile_parse_size(cmd->pool, arg, 64 * 1024, 64 * 1024 * 1024,
                                         &profiles_conf(cmd)->scrape_max_page);
    (void)d;
    return err ? profile_directive_fail(cmd, err) : NULL;
}

const char *profile_set_scrape_breaker(cmd_parms *cmd, void *d, const char *failures,
                                       const char *cooldown)
{
    profile_profiles_config_t *c = profiles_conf(cmd);
    long f, s;
    const char *err;
    (void)d;

    if ((err = profile_parse_int(cmd->pool, failures, 1, 1000, &f)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "failures ", err, NULL));
    if ((err = profile_parse_int(cmd->pool, cooldown, 1, 3600, &s)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "cooldown ", err, NULL));
    c->breaker_failures = (int)f;
    c->breaker_cooldown_s = (int)s;
    return NULL;
}

const char *profile_set_scrape_user_agent(cmd_parms *cmd, void *d, const char *arg)
{
    const char *s;
    (void)d;
    for (s = arg; *s; s++)
        if (!apr_isprint(*s))
            break;
    if (*s || s == arg || s - arg > USER_AGENT_MAX)
        return profile_directive_fail(cmd, "must be 1 to 512 printable ASCII characters");
    profiles_conf(cmd)->scrape_user_agent = arg;
    return NULL;
}

const char *profile_set_avatar_tiers(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    profile_profiles_config_t *c = profiles_conf(cmd);
    int i, j;
    (void)d;

    if (argc < 1 || argc > PROFILE_TIER_COUNT)
        return profile_directive_fail(cmd, "expects 1 to 4 of live scraper generator initials");
    for (i = 0; i < argc; i++) {
        int tier = profile_tier_parse(argv[i]);
        if (tier < 0)
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool,
                "unknown tier '%s' (live, scraper, generator or initials)", argv[i]));
        for (j = 0; j < i; j++)
            if (c->avatar_tiers[j] == tier)
                return profile_directive_fail(cmd, apr_psprintf(cmd->pool,
                                                                "'%s' is listed twice", argv[i]));
        c->avatar_tiers[i] = tier;
    }
    c->n_avatar_tiers = argc;
    return NULL;
}
