/* GET /profile/{username}, POST /profiles/revalidate and GET /profiles/revalidate/{job_id}. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "cache/cache_stats.h"
#include "profiles/resolve.h"
#include "profiles/profile_json.h"
#include "profiles/username.h"
#include "store/revalidation.h"
#include "util/respond.h"

#define REVALIDATE_MAX 100

static const char *const answer_header[] = {
    [PROFILE_ANSWER_HIT] = "hit",
    [PROFILE_ANSWER_STALE] = "stale",
    [PROFILE_ANSWER_STORED] = "miss",
    [PROFILE_ANSWER_FETCHED] = "miss",
    [PROFILE_ANSWER_COALESCED] = "miss",
    [PROFILE_ANSWER_UNCACHED] = "miss",
};

static apr_int64_t seconds_left(apr_time_t until, apr_time_t now)
{
    return until > now ? apr_time_sec(until - now + APR_USEC_PER_SEC - 1) : 0;
}

int profile_handle_profile_get(profile_request_t *pr)
{
    request_rec *r = pr->r;
    const char *username, *text;
    profile_cache_entry_t e;
    profile_answer_t how;
    apr_time_t now;
    apr_size_t len;
    int stale, status;

    if (profile_handler_tiktok_username(pr, apr_table_get(pr->params, "username"), &username))
        return OK;
    profile_resolve(pr, username, &e, &how);
    now = apr_time_now();
    stale = how == PROFILE_ANSWER_STALE;
    apr_table_setn(r->headers_out, "X-Profile-Cache", answer_header[how]);
    apr_table_setn(r->headers_out, "Cache-Control",
                   apr_psprintf(r->pool, "private, max-age=%" APR_INT64_T_FMT,
                                stale ? 0 : seconds_left(e.expires_at, now)));
    if (e.status == HTTP_NOT_FOUND)
        return profile_send_error(pr, HTTP_NOT_FOUND, "not_found",
                                  json_pack("{s:s}", "username", username),
                                  "TikTok has no user named '%s'", username);
    profile_cache_count_tier(e.tier);
    apr_table_setn(r->headers_out, "ETag",
                   apr_psprintf(r->pool, "\"%016" APR_UINT64_T_HEX_FMT "%s\"", e.etag,
                                stale ? "-s" : ""));
    status = ap_meets_conditions(r);
    if (status == HTTP_NOT_MODIFIED)
        return HTTP_NOT_MODIFIED;
    text = profile_json_finish(r->pool, e.body, e.body_len, stale, &len);
    return profile_send_json_text(pr, HTTP_OK, text, len);
}

/* The usernames of a revalidation request, canonical and without duplicates; NULL after a
 * 400 answer. */
static apr_array_header_t *revalidate_names(profile_request_t *pr, json_t *body)
{
    apr_pool_t *p = pr->r->pool;
    json_t *list = json_object_get(body, "usernames"), *fields = json_object(), *item;
    apr_array_header_t *names = apr_array_make(p, REVALIDATE_MAX, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(p);
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0)
        profile_field_problem(fields, "usernames", "must be a non-empty array of usernames");
    else if (json_array_size(list) > REVALIDATE_MAX)
        profile_field_problem(fields, "usernames",
                              apr_psprintf(p, "at most %d usernames per job", REVALIDATE_MAX));
    else
        json_array_foreach(list, i, item) {
            const char *name, *why = json_is_string(item)
                ? profile_tiktok_username(p, json_string_value(item), &name)
                : "must be a string";
            if (why) {
                profile_field_problem(fields, apr_psprintf(p, "usernames[%d]", (int)i), why);
                continue;
            }
            if (apr_hash_get(seen, name, APR_HASH_KEY_STRING))
                continue;
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    if (json_object_size(fields)) {
        profile_send_validation(pr, fields);
        return NULL;
    }
    json_decref(fields);
    return names;
}

int profile_handle_profiles_revalidate(profile_request_t *pr)
{
    json_t *body = profile_handler_body(pr);
    apr_array_header_t *names;
    const char *job_id, *status_url;
    PGconn *c;

    if (!body || !(names = revalidate_names(pr, body)))
        return OK;
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_store_reval_create(c, pr->r->pool, pr->principal->name, names, &job_id)
        != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "queueing a revalidation job");
    status_url = apr_pstrcat(pr->r->pool, "/profiles/revalidate/", job_id, NULL);
    apr_table_setn(pr->r->headers_out, "Location", status_url);
    return profile_send_json(pr, HTTP_ACCEPTED,
                             json_pack("{s:s,s:s,s:i,s:s}", "job_id", job_id, "status", "queued",
                                       "total", names->nelts, "status_url", status_url));
}

static json_t *item_json(apr_pool_t *p, const profile_reval_item_t *it)
{
    return json_pack("{s:s,s:s,s:s?,s:s?,s:i,s:o}", "username", it->username,
                     "status", it->status, "outcome", it->outcome,
                     "source", profile_tier_name(it->tier), "attempts", it->attempts,
                     "finished_at", profile_time_json(p, it->finished_at));
}

int profile_handle_profiles_revalidate_status(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const char *id = apr_table_get(pr->params, "job_id");
    profile_reval_job_t job;
    profile_store_rc_t rc;
    json_t *items;
    PGconn *c;
    int i;

    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_store_reval_get(c, p, id, &job);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "No revalidation job has this id");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "reading a revalidation job");
    items = json_array();
    for (i = 0; i < job.items->nelts; i++)
        json_array_append_new(items, item_json(p, &APR_ARRAY_IDX(job.items, i,
                                                                  profile_reval_item_t)));
    return profile_send_json(pr, HTTP_OK,
        json_pack("{s:s,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:i,s:i,s:o}", "job_id", job.id,
                  "status", job.finished_at ? "finished" : job.running || job.done || job.failed
                                                             ? "running" : "queued",
                  "created_by", job.created_by, "created_at", profile_time_json(p, job.created_at),
                  "finished_at", profile_time_json(p, job.finished_at), "total", job.total,
                  "pending", job.pending, "running", job.running, "done", job.done,
                  "failed", job.failed, "items", items));
}
