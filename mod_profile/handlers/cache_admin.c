/* GET /cache/stats (also /monitoring/cache/stats), POST /cache/clear-expired and
 * DELETE /cache/profiles/{username}. The shared cache layer answers even while PostgreSQL is
 * down; the postgres figures are then an error member instead of numbers. */
#include <apr_strings.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "cache/cache.h"
#include "cache/cache_stats.h"
#include "http/scrape.h"
#include "store/pg_pool.h"
#include "store/profiles.h"
#include "util/respond.h"

/* The persistent layer's part of an answer, or {"error":…} when the database failed. */
static json_t *postgres_unavailable(void)
{
    return json_pack("{s:s}", "error", "database unavailable");
}

static PGconn *optional_db(profile_request_t *pr)
{
    int retry_after;
    return pr->sconf->db_pool ? profile_db_acquire(pr->sconf->db_pool, pr->r, &retry_after)
                              : NULL;
}

static json_t *postgres_stats(profile_request_t *pr, apr_time_t now)
{
    profile_store_profile_stats_t st;
    PGconn *c = optional_db(pr);

    if (!c || profile_store_profile_stats(c, now, &st) != PROFILE_STORE_OK)
        return postgres_unavailable();
    return json_pack("{s:I,s:I,s:I}", "entries", (json_int_t)st.entries,
                     "memory_bytes", (json_int_t)st.bytes, "expired", (json_int_t)st.expired);
}

int profile_handle_cache_stats(profile_request_t *pr)
{
    const profile_profiles_config_t *c = &pr->sconf->profiles;
    apr_time_t now = apr_time_now();
    server_rec *s = pr->r->server;
    json_t *body = profile_cache_stats_json(), *layers = json_object(), *upstream;

    json_object_set_new(layers, profile_cache_layer_name(s),
                        profile_cache_layer_stats(s, pr->r->pool, now));
    json_object_set_new(layers, "postgres", postgres_stats(pr, now));
    json_object_set_new(body, "layers", layers);
    upstream = json_object_get(body, "upstream");
    if (upstream)
        json_object_set_new(upstream, "breaker", profile_scrape_breaker_json(pr->r->pool));
    json_object_set_new(body, "settings",
        json_pack("{s:i,s:i,s:i,s:i,s:I}", "ttl", profile_cache_ttl_s(c),
                  "stale_ttl", profile_cache_stale_s(c),
                  "negative_ttl", profile_cache_negative_ttl_s(c),
                  "max_entries", profile_cache_max_entries(c),
                  "max_memory_mb", (json_int_t)(profile_cache_max_memory(c) / (1024 * 1024))));
    return profile_send_json(pr, HTTP_OK, body);
}

static json_t *count_or_error(apr_int64_t n)
{
    return n >= 0 ? json_integer((json_int_t)n) : json_null();
}

int profile_handle_cache_clear_expired(profile_request_t *pr)
{
    server_rec *s = pr->r->server;
    apr_time_t now = apr_time_now();
    apr_int64_t from_layer = profile_cache_clear_expired(s, pr->r->pool, now), from_db = -1;
    PGconn *c = optional_db(pr);
    json_t *removed = json_object();

    if (c && profile_store_profile_clear_expired(c, now, &from_db) != PROFILE_STORE_OK)
        from_db = -1;
    json_object_set_new(removed, profile_cache_layer_name(s), count_or_error(from_layer));
    json_object_set_new(removed, "postgres", count_or_error(from_db));
    return profile_send_json(pr, HTTP_OK, json_pack("{s:o}", "removed", removed));
}

int profile_handle_cache_profile_delete(profile_request_t *pr)
{
    server_rec *s = pr->r->server;
    const char *username;
    int from_layer, from_db = -1;
    json_t *removed;
    PGconn *c;

    if (profile_handler_tiktok_username(pr, apr_table_get(pr->params, "username"), &username))
        return OK;
    /* PostgreSQL first: a concurrent miss then cannot copy the row back into the layer. */
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_store_profile_delete(c, username, &from_db) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "deleting a cached profile");
    from_layer = profile_cache_delete(s, pr->r->pool, username);
    removed = json_object();
    json_object_set_new(removed, profile_cache_layer_name(s), count_or_error(from_layer));
    json_object_set_new(removed, "postgres", json_integer(from_db));
    return profile_send_json(pr, HTTP_OK,
                             json_pack("{s:s,s:o}", "username", username, "removed", removed));
}
