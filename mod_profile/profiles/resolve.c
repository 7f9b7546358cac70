/* The profile read path; see resolve.h. A request first asks the shared cache layer (no
 * database), then PostgreSQL, then takes the single-flight lease and fetches; requests that
 * find the lease taken poll the cache layer until the fetcher has stored its answer. */
#include <apr_strings.h>
#include <string.h>

#include "profiles/resolve.h"
#include "profiles/profile_json.h"
#include "profiles/worker.h"
#include "cache/cache.h"
#include "cache/cache_stats.h"
#include "cache/flight.h"
#include "http/scrape.h"
#include "store/pg_pool.h"
#include "store/profiles.h"

#define POLL_INTERVAL_US 20000
/* How long after its lease a waiter gives up on another request's fetch. */
#define WAIT_MARGIN_MS 1000

static const int avatar_sizes[3] = { 100, 720, 1080 };   /* thumb, medium, large */

/* Where the database connection of a resolution comes from: the request's pool (released with
 * the request) or, in background work, the caller's pool. Opened at most once, lazily: a hit
 * never gets here. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    request_rec *r;            /* NULL in background work */
    PGconn *conn;
    int tried;
} resolve_ctx_t;

static profile_db_pool_t *db_pool(const resolve_ctx_t *x)
{
    return profile_server_config(x->s)->db_pool;
}

static PGconn *ctx_db(resolve_ctx_t *x)
{
    int retry_after;

    if (!x->tried && db_pool(x)) {
        x->tried = 1;
        x->conn = x->r ? profile_db_acquire(db_pool(x), x->r, &retry_after)
                       : profile_db_acquire_pool(db_pool(x), x->p, &retry_after);
    }
    return x->conn;
}

/* A store failure costs the persistent layer only: the answer still goes out. */
static void ctx_db_failed(resolve_ctx_t *x, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, x->s, APLOGNO(10800)
                 "profile store: %s failed: %s", what, PQerrorMessage(x->conn));
    if (PQstatus(x->conn) != CONNECTION_OK) {
        if (x->r)
            profile_db_mark_broken(db_pool(x), x->r, x->conn);
        else
            profile_db_mark_broken_pool(db_pool(x), x->p, x->conn);
    }
    x->conn = NULL;
}

int profile_fetch_lease_ms(server_rec *s)
{
    return profile_scrape_timeout_ms(&profile_server_config(s)->profiles) + 2000;
}

static void generated_urls(apr_pool_t *p, const profile_profiles_config_t *c, const char *kind,
                           const char *username, profile_view_t *v)
{
    const char *base = apr_pstrcat(p, profile_public_url(c), "/avatars/", kind, "/", username,
                                   ".svg?size=", NULL);
    v->avatar_thumb = apr_psprintf(p, "%s%d", base, avatar_sizes[0]);
    v->avatar_medium = apr_psprintf(p, "%s%d", base, avatar_sizes[1]);
    v->avatar_large = apr_psprintf(p, "%s%d", base, avatar_sizes[2]);
}

/* Picks the avatar: the first configured tier that has one. Initials always have one, so
 * they answer last even when ProfileAvatarTiers leaves them out. */
static void choose_avatar(apr_pool_t *p, const profile_profiles_config_t *c,
                          const profile_live_seen_t *live, int scraped, profile_view_t *v)
{
    int i, n;
    const int *tiers = profile_avatar_tiers(c, &n);

    for (i = 0; i < n; i++) {
        int tier = tiers[i];
        if (tier == PROFILE_TIER_LIVE && live) {
            v->avatar_thumb = v->avatar_medium = v->avatar_large = live->avatar_url;
            break;
        }
        if (tier == PROFILE_TIER_SCRAPER && scraped && v->user.avatar_large) {
            v->avatar_thumb = v->user.avatar_thumb ? v->user.avatar_thumb : v->user.avatar_large;
            v->avatar_medium = v->user.avatar_medium ? v->user.avatar_medium
                                                     : v->user.avatar_large;
            v->avatar_large = v->user.avatar_large;
            break;
        }
        if (tier == PROFILE_TIER_GENERATOR) {
            generated_urls(p, c, "generated", v->username, v);
            break;
        }
        if (tier == PROFILE_TIER_INITIALS)
            break;
    }
    v->tier = i < n ? tiers[i] : PROFILE_TIER_INITIALS;
    if (v->tier == PROFILE_TIER_INITIALS)
        generated_urls(p, c, "initials", v->username, v);
    v->avatar_url = v->avatar_large;
}

static int tier_enabled(const profile_profiles_config_t *c, int tier)
{
    int i, n;
    const int *tiers = profile_avatar_tiers(c, &n);
    for (i = 0; i < n; i++)
        if (tiers[i] == tier)
            return 1;
    return 0;
}

/* Stores e in both layers. */
static void store_entry(resolve_ctx_t *x, const char *username, const profile_cache_entry_t *e)
{
    PGconn *c = ctx_db(x);

    if (c && profile_store_profile_put(c, username, e) != PROFILE_STORE_OK)
        ctx_db_failed(x, "saving a profile");
    profile_cache_put(x->s, x->p, username, e);
}

/* A usable answer from an earlier fetch, kept when a refresh cannot reach TikTok. */
static int worth_keeping(const profile_cache_entry_t *prev)
{
    return prev && prev->status == HTTP_OK
           && (prev->tier == PROFILE_TIER_SCRAPER || prev->tier == PROFILE_TIER_LIVE);
}

/* Fetches username, builds the answer from the tiers and stores it. prev: the entry being
 * refreshed, if any. Returns "ok", "not_found" or "fallback". */
static const char *fetch_and_store(resolve_ctx_t *x, const char *username,
                                   const profile_cache_entry_t *prev, profile_cache_entry_t *e)
{
    const profile_profiles_config_t *c = &profile_server_config(x->s)->profiles;
    profile_scrape_result_t scraped;
    profile_live_seen_t live_row, *live = NULL;
    profile_view_t v;
    apr_time_t now;
    const char *outcome;
    PGconn *db = ctx_db(x);

    if (db && tier_enabled(c, PROFILE_TIER_LIVE)) {
        profile_store_rc_t rc = profile_store_live_get(db, x->p, username, &live_row);
        if (rc == PROFILE_STORE_OK)
            live = &live_row;
        else if (rc == PROFILE_STORE_ERROR)
            ctx_db_failed(x, "reading the live tier");
    }
    scraped.rc = PROFILE_SCRAPE_SKIPPED;
    profile_tiktok_user_init(&scraped.user);
    if (tier_enabled(c, PROFILE_TIER_SCRAPER))
        profile_scrape(x->s, x->p, username, &scraped);
    now = apr_time_now();

    memset(e, 0, sizeof(*e));
    e->fetched_at = now;
    if (scraped.rc == PROFILE_SCRAPE_NOT_FOUND) {
        e->status = HTTP_NOT_FOUND;
        e->tier = -1;
        e->expires_at = e->stale_until = now + apr_time_from_sec(profile_cache_negative_ttl_s(c));
        e->body = "";
        store_entry(x, username, e);
        return "not_found";
    }
    if (scraped.rc != PROFILE_SCRAPE_OK && worth_keeping(prev)) {
        /* Nothing lost on faults: the last good answer stays, to be retried soon. */
        *e = *prev;
        e->expires_at = now + apr_time_from_sec(profile_cache_negative_ttl_s(c));
        if (e->stale_until < e->expires_at)
            e->stale_until = e->expires_at;
        store_entry(x, username, e);
        return "fallback";
    }

    memset(&v, 0, sizeof(v));
    v.username = username;
    v.user = scraped.user;
    if (live && !v.user.nickname)
        v.user.nickname = live->nickname;
    if (live && !v.user.user_id)
        v.user.user_id = live->user_id;
    choose_avatar(x->p, c, live, scraped.rc == PROFILE_SCRAPE_OK, &v);
    outcome = scraped.rc == PROFILE_SCRAPE_OK ? "ok" : "fallback";
    v.fetched_at = now;
    v.expires_at = now + apr_time_from_sec(scraped.rc == PROFILE_SCRAPE_OK
                                               ? profile_cache_ttl_s(c)
                                               : profile_cache_negative_ttl_s(c));
    e->status = HTTP_OK;
    e->tier = v.tier;
    e->expires_at = v.expires_at;
    e->stale_until = v.expires_at + apr_time_from_sec(profile_cache_stale_s(c));
    e->body = profile_json_render(x->p, &v, &e->body_len);
    e->etag = profile_cache_etag(e->body, e->body_len);
    store_entry(x, username, e);
    return outcome;
}

/* A hit in the cache layer or PostgreSQL, fresh or servable stale. */
static int lookup(resolve_ctx_t *x, const char *username, apr_time_t now,
                  profile_cache_entry_t *e, profile_answer_t *how)
{
    PGconn *db;
    profile_store_rc_t rc;

    if (profile_cache_get(x->s, x->p, username, now, e) == 1) {
        *how = e->expires_at > now ? PROFILE_ANSWER_HIT : PROFILE_ANSWER_STALE;
        return 1;
    }
    profile_cache_count(PROFILE_CS_MISS);
    if (!(db = ctx_db(x)))
        return 0;
    rc = profile_store_profile_get(db, x->p, username, e);
    if (rc == PROFILE_STORE_ERROR)
        ctx_db_failed(x, "reading a profile");
    if (rc != PROFILE_STORE_OK)
        return 0;
    profile_cache_put(x->s, x->p, username, e);
    *how = e->expires_at > now ? PROFILE_ANSWER_STORED : PROFILE_ANSWER_STALE;
    return 1;
}

void profile_resolve(profile_request_t *pr, const char *username, profile_cache_entry_t *e,
                     profile_answer_t *how)
{
    resolve_ctx_t x = { pr->r->server, pr->r->pool, pr->r, NULL, 0 };
    apr_time_t now = apr_time_now();
    apr_time_t give_up = now + apr_time_from_msec(profile_fetch_lease_ms(x.s) + WAIT_MARGIN_MS);

    if (lookup(&x, username, now, e, how)) {
        if (*how == PROFILE_ANSWER_STALE && e->status == HTTP_OK)
            profile_worker_refresh(username);
        profile_cache_count(*how == PROFILE_ANSWER_HIT ? PROFILE_CS_HIT
                            : *how == PROFILE_ANSWER_STALE ? PROFILE_CS_STALE
                                                            : PROFILE_CS_DB_HIT);
        return;
    }
    while (apr_time_now() < give_up) {
        if (profile_flight_acquire(x.s, x.p, username, profile_fetch_lease_ms(x.s)) == 1) {
            /* The previous holder may have stored its answer since our miss. */
            if (profile_cache_get(x.s, x.p, username, apr_time_now(), e) == 1
                && e->expires_at > now) {
                *how = PROFILE_ANSWER_COALESCED;
                profile_cache_count(PROFILE_CS_COALESCED);
            }
            else {
                fetch_and_store(&x, username, NULL, e);
                *how = PROFILE_ANSWER_FETCHED;
            }
            profile_flight_release(x.s, x.p, username);
            return;
        }
        apr_sleep(POLL_INTERVAL_US);
        if (profile_cache_get(x.s, x.p, username, apr_time_now(), e) == 1
            && e->fetched_at >= now) {
            *how = PROFILE_ANSWER_COALESCED;
            profile_cache_count(PROFILE_CS_COALESCED);
            return;
        }
    }
    /* The fetcher neither finished nor gave up its lease in time: answer anyway. */
    fetch_and_store(&x, username, NULL, e);
    *how = PROFILE_ANSWER_UNCACHED;
}

const char *profile_refresh(server_rec *s, apr_pool_t *p, const char *username, int force,
                            int *tier)
{
    resolve_ctx_t x = { s, p, NULL, NULL, 0 };
    profile_cache_entry_t prev, e;
    const profile_cache_entry_t *have = NULL;
    apr_time_t give_up = apr_time_now()
                         + apr_time_from_msec(profile_fetch_lease_ms(s) + WAIT_MARGIN_MS);
    int leased = profile_flight_acquire(s, p, username, profile_fetch_lease_ms(s)) == 1;
    const char *outcome;

    while (!leased && force && apr_time_now() < give_up) {
        apr_sleep(POLL_INTERVAL_US * 5);
        leased = profile_flight_acquire(s, p, username, profile_fetch_lease_ms(s)) == 1;
    }
    if (profile_cache_get(s, p, username, apr_time_now(), &prev) == 1)
        have = &prev;
    /* A stale refresh is done once: by whoever holds the lease, or already by someone. */
    if (!force && (!leased || (have && have->expires_at > apr_time_now()))) {
        if (leased)
            profile_flight_release(s, p, username);
        return NULL;
    }
    profile_cache_count(PROFILE_CS_REFRESHES);
    outcome = fetch_and_store(&x, username, have, &e);
    if (leased)
        profile_flight_release(s, p, username);
    *tier = e.status == HTTP_OK ? e.tier : -1;
    return outcome;
}
