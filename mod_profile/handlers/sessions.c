/* Live capture sessions: POST /connect, POST /disconnect, GET /sessions, GET /sessions/{id},
 * POST /sessions/cleanup and GET /sessions/{id}/comments (the persisted event history). The
 * sidecars run the captures; these endpoints store the requests and wake them (NOTIFY). */
#include <apr_strings.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "auth/crypto.h"
#include "profiles/username.h"
#include "store/live_sessions.h"
#include "util/json_text.h"
#include "util/respond.h"

#define GENERATED_ID_CHARS   24
#define USERNAME_MAX_CHARS   64      /* before the TikTok rules, which allow 2..24 */
#define RECORDING_MAX        64
#define SPEED_MIN            0.1
#define SPEED_MAX            1000.0
#define CLEANUP_DEFAULT_S    3600
#define CLEANUP_MAX_S        31536000
#define LIST_DEFAULT         100
#define EVENTS_DEFAULT       100
#define STATUS_PARAM_MAX     64      /* "connecting,live,stopping,ended,failed" fits */
#define TYPES_PARAM_MAX      128
#define SIDECAR_RETRY_S      "5"
#define ID_RULE "must be 1 to 64 of A-Z a-z 0-9 _ -"

static json_t *session_json(apr_pool_t *p, const profile_live_session_t *s)
{
    json_t *o = json_object();
    json_t *options = s->options ? json_loads(s->options, 0, NULL) : NULL;

    json_object_set_new(o, "session_id", json_string(s->id));
    json_object_set_new(o, "username", json_string(s->username));
    json_object_set_new(o, "source", json_string(s->source));
    json_object_set_new(o, "status", json_string(s->status));
    json_object_set_new(o, "error_reason", profile_json_text_or_null(s->error_reason));
    json_object_set_new(o, "error_detail", profile_json_text_or_null(s->error_detail));
    json_object_set_new(o, "options", json_is_object(options) ? options : json_object());
    if (options && !json_is_object(options))
        json_decref(options);
    json_object_set_new(o, "viewers", json_integer((json_int_t)s->viewers));
    json_object_set_new(o, "event_count", json_integer((json_int_t)s->event_count));
    json_object_set_new(o, "comment_count", json_integer((json_int_t)s->comment_count));
    json_object_set_new(o, "last_offset", json_integer((json_int_t)s->last_offset));
    json_object_set_new(o, "created_at", profile_time_json(p, s->created_at));
    json_object_set_new(o, "started_at", profile_time_json(p, s->started_at));
    json_object_set_new(o, "ended_at", profile_time_json(p, s->ended_at));
    json_object_set_new(o, "last_event_at", profile_time_json(p, s->last_event_at));
    json_object_set_new(o, "owner", profile_json_text_or_null(s->owner));
    json_object_set_new(o, "lease_until", profile_time_json(p, s->lease_until));
    json_object_set_new(o, "created_by", profile_json_text_or_null(s->created_by));
    json_object_set_new(o, "websocket_url",
                        json_string(apr_pstrcat(p, "/ws/comments/", s->id, NULL)));
    return o;
}

static int invalid_session_id(profile_request_t *pr)
{
    return profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_session_id",
                              json_pack("{s:s}", "session_id", ID_RULE),
                              "Invalid session id: it %s", ID_RULE);
}

/* The {id} of the path: 0, or -1 after a 400 answer. */
static int path_session_id(profile_request_t *pr, const char **id)
{
    *id = apr_table_get(pr->params, "id");
    if (profile_live_session_id_ok(*id))
        return 0;
    invalid_session_id(pr);
    return -1;
}

static int is_recording_name(const char *s)
{
    apr_size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'
              || s[n] == '-') || n >= RECORDING_MAX)
            return 0;
    return n > 0;
}

/* The "options" object of /connect, checked and rebuilt from the known keys only: its JSON
 * text, or NULL with problems added to fields. */
static const char *connect_options(apr_pool_t *p, json_t *body, const char *source,
                                   json_t *fields)
{
    json_t *in = json_object_get(body, "options"), *out, *v;
    const char *key, *text = NULL;
    char *dumped;
    int problems = 0;

    if (!in || json_is_null(in))
        return "{}";
    if (!json_is_object(in)) {
        profile_field_problem(fields, "options", "must be an object");
        return NULL;
    }
    out = json_object();
    json_object_foreach(in, key, v) {
        const char *why = NULL;
        int replay = source && !strcmp(source, "replay");
        if (replay && !strcmp(key, "speed")) {
            double speed = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(speed >= SPEED_MIN && speed <= SPEED_MAX))
                why = "must be a number from 0.1 to 1000";
        }
        else if ((replay && !strcmp(key, "loop")) || (!replay && !strcmp(key, "wait_until_live"))) {
            if (!json_is_boolean(v))
                why = "must be true or false";
        }
        else if (replay && !strcmp(key, "recording")) {
            if (!json_is_string(v) || !is_recording_name(json_string_value(v)))
                why = "must be 1 to 64 of a-z 0-9 _ -";
        }
        else {
            /* The key came from the client and may be anything: it is not echoed. */
            profile_field_problem(fields, "options", replay
                                  ? "holds an unknown option (replay knows speed, loop, recording)"
                                  : "holds an unknown option (tiktok knows wait_until_live)");
            problems++;
            continue;
        }
        if (why) {
            profile_field_problem(fields, apr_pstrcat(p, "options.", key, NULL), why);
            problems++;
        }
        else
            json_object_set(out, key, v);
    }
    if (!problems && (dumped = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(12)))) {
        text = apr_pstrdup(p, dumped);
        free(dumped);
    }
    json_decref(out);
    return text;
}

/* The /connect request from the body: 0, or -1 after a 400 answer. */
static int connect_request(profile_request_t *pr, json_t *body, profile_connect_request_t *req)
{
    apr_pool_t *p = pr->r->pool;
    json_t *fields = json_object();
    const char *raw, *why;

    memset(req, 0, sizeof(*req));
    raw = profile_field_string(p, body, "username", USERNAME_MAX_CHARS, PROFILE_FIELD_REQUIRED,
                               fields);
    if (raw && (why = profile_tiktok_username(p, raw, &req->username)))
        profile_field_problem(fields, "username", why);
    req->source = profile_field_string(p, body, "source", 16, 0, fields);
    if (!req->source && !json_object_get(fields, "source"))
        req->source = "tiktok";
    else if (req->source && strcmp(req->source, "tiktok") && strcmp(req->source, "replay"))
        profile_field_problem(fields, "source", "must be tiktok or replay");
    req->id = profile_field_string(p, body, "session_id", PROFILE_LIVE_ID_MAX, 0, fields);
    if (req->id && !profile_live_session_id_ok(req->id))
        profile_field_problem(fields, "session_id", ID_RULE);
    req->options = connect_options(p, body, req->source, fields);
    if (json_object_size(fields)) {
        profile_send_validation(pr, fields);
        return -1;
    }
    json_decref(fields);
    req->created_by = pr->principal->name;
    if (!req->id && !(req->id = profile_random_base62(p, GENERATED_ID_CHARS))) {
        profile_handler_internal(pr, "generating a session id");
        return -1;
    }
    return 0;
}

int profile_handle_connect(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *body = profile_handler_body(pr);
    profile_connect_request_t req;
    profile_connect_outcome_t outcome;
    profile_live_session_t s;
    int alive = 0, changed;
    PGconn *c;

    if (!body || connect_request(pr, body, &req))
        return OK;
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_live_connect(c, p, &req, &outcome, &s, &alive) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "starting a live session");
    if (outcome == PROFILE_CONNECT_CONFLICT)
        return profile_send_error(pr, HTTP_CONFLICT, "conflict",
            json_pack("{s:s,s:s,s:s,s:s}", "session_id", s.id, "status", s.status,
                      "username", s.username, "source", s.source),
            !strcmp(s.status, "stopping")
                ? "Session '%s' is stopping; connect again once it has ended"
                : "Session '%s' is already capturing another username or source; choose "
                  "another session_id", s.id);
    changed = outcome == PROFILE_CONNECT_CREATED || outcome == PROFILE_CONNECT_RESTARTED;
    if (changed) {
        profile_handler_audit(pr, c, "session_connected", pr->principal->user_id, NULL,
                              json_pack("{s:s,s:s,s:s,s:s}", "session_id", s.id,
                                        "username", s.username, "source", s.source, "outcome",
                                        outcome == PROFILE_CONNECT_CREATED ? "created"
                                                                           : "restarted"));
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, pr->r, APLOGNO(10830)
                      "live session %s %s for %s (%s) by %s", s.id,
                      outcome == PROFILE_CONNECT_CREATED ? "created" : "restarted", s.username,
                      s.source, req.created_by);
        apr_table_setn(pr->r->headers_out, "Location",
                       apr_pstrcat(p, "/sessions/", s.id, NULL));
    }
    if (!alive) {
        apr_table_setn(pr->r->err_headers_out, "Retry-After", SIDECAR_RETRY_S);
        return profile_send_error(pr, HTTP_SERVICE_UNAVAILABLE, "sidecar_unavailable",
            json_pack("{s:s,s:s}", "session_id", s.id, "status", s.status),
            "No live-capture sidecar is running: session '%s' is queued and starts as soon "
            "as one does", s.id);
    }
    return profile_send_json(pr, changed ? HTTP_ACCEPTED : HTTP_OK, session_json(p, &s));
}

int profile_handle_disconnect(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *body = profile_handler_body(pr), *fields;
    profile_disconnect_outcome_t outcome;
    profile_live_session_t s;
    profile_store_rc_t rc;
    const char *id;
    PGconn *c;

    if (!body)
        return OK;
    fields = json_object();
    id = profile_field_string(p, body, "session_id", PROFILE_LIVE_ID_MAX, PROFILE_FIELD_REQUIRED,
                              fields);
    if (id && !profile_live_session_id_ok(id))
        profile_field_problem(fields, "session_id", ID_RULE);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_live_disconnect(c, p, id, &outcome, &s);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "There is no live session with this id");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "stopping a live session");
    if (outcome != PROFILE_DISCONNECT_FINAL) {
        const char *how = outcome == PROFILE_DISCONNECT_STOPPING ? "stopping" : "ended";
        profile_handler_audit(pr, c, "session_disconnected", pr->principal->user_id, NULL,
                              json_pack("{s:s,s:s}", "session_id", s.id, "outcome", how));
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, pr->r, APLOGNO(10831)
                      "live session %s %s by %s", s.id,
                      outcome == PROFILE_DISCONNECT_STOPPING ? "asked to stop" : "ended",
                      pr->principal->name);
    }
    return profile_send_json(pr, outcome == PROFILE_DISCONNECT_STOPPING ? HTTP_ACCEPTED : HTTP_OK,
                             session_json(p, &s));
}

/* A comma-separated query parameter of known names: 0 with *out NULL (absent) or the names,
 * -1 after a 400 answer. */
static int name_list(profile_request_t *pr, const char *param, apr_size_t max_chars,
                     int (*known)(const char *), const char *accepted,
                     apr_array_header_t **out)
{
    apr_pool_t *p = pr->r->pool;
    const char *raw;
    char *list, *item, *state;
    int rc = profile_query_string(pr, param, max_chars, &raw);

    *out = NULL;
    if (rc <= 0)
        return rc;
    *out = apr_array_make(p, 8, sizeof(const char *));
    list = apr_pstrdup(p, raw);
    for (item = apr_strtok(list, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        if (!known(item))
            break;
        APR_ARRAY_PUSH(*out, const char *) = item;
    }
    if (item || !(*out)->nelts) {
        profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_parameter",
                           json_pack("{s:s,s:s}", "parameter", param, "accepted", accepted),
                           "%s must be a comma-separated list of %s", param, accepted);
        return -1;
    }
    return 0;
}

int profile_handle_sessions_list(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    apr_array_header_t *statuses, *sessions;
    apr_int64_t limit;
    json_t *list;
    PGconn *c;
    int i;

    if (name_list(pr, "status", STATUS_PARAM_MAX, profile_live_status_ok,
                  "connecting, live, stopping, ended, failed", &statuses)
        || profile_query_int(pr, "limit", 1, PROFILE_LIVE_LIST_MAX, LIST_DEFAULT, &limit))
        return OK;
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_live_list(c, p, statuses, (int)limit, &sessions) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "listing live sessions");
    list = json_array();
    for (i = 0; i < sessions->nelts; i++)
        json_array_append_new(list, session_json(p, &APR_ARRAY_IDX(sessions, i,
                                                                   profile_live_session_t)));
    return profile_send_json(pr, HTTP_OK, json_pack("{s:o,s:i}", "sessions", list, "count",
                                                    sessions->nelts));
}

int profile_handle_session_get(profile_request_t *pr)
{
    profile_live_session_t s;
    profile_store_rc_t rc;
    const char *id;
    PGconn *c;

    if (path_session_id(pr, &id) || !(c = profile_handler_db(pr)))
        return OK;
    rc = profile_live_get(c, pr->r->pool, id, &s);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "There is no live session with this id");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "reading a live session");
    return profile_send_json(pr, HTTP_OK, session_json(pr->r->pool, &s));
}

int profile_handle_sessions_cleanup(profile_request_t *pr)
{
    json_t *body = profile_handler_body(pr), *fields;
    json_int_t older_than_s = CLEANUP_DEFAULT_S;
    apr_int64_t removed;
    PGconn *c;

    if (!body)
        return OK;
    fields = json_object();
    profile_field_int(body, "older_than_s", 0, CLEANUP_MAX_S, 0, &older_than_s, fields);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_live_cleanup(c, (apr_int64_t)older_than_s, &removed) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "removing finished live sessions");
    profile_handler_audit(pr, c, "sessions_cleaned_up", pr->principal->user_id, NULL,
                          json_pack("{s:I,s:I}", "removed", (json_int_t)removed,
                                    "older_than_s", older_than_s));
    if (removed)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, pr->r, APLOGNO(10832)
                      "removed %" APR_INT64_T_FMT " finished live sessions older than %"
                      APR_INT64_T_FMT " s", removed, (apr_int64_t)older_than_s);
    return profile_send_json(pr, HTTP_OK, json_pack("{s:I,s:I}", "removed", (json_int_t)removed,
                                                    "older_than_s", older_than_s));
}

/* The events go out as stored, byte for byte: the answer is assembled as text. */
int profile_handle_session_comments(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    apr_array_header_t *types, *bodies, *offsets;
    apr_int64_t since, limit, last_offset, next_since;
    struct iovec *parts;
    profile_store_rc_t rc;
    const char *id, *head, *tail;
    apr_size_t len;
    char *text;
    int i, n, has_more;
    PGconn *c;

    if (path_session_id(pr, &id)
        || profile_query_int(pr, "since", 0, APR_INT64_MAX, 0, &since)
        || profile_query_int(pr, "limit", 1, PROFILE_LIVE_EVENTS_MAX, EVENTS_DEFAULT, &limit)
        || name_list(pr, "types", TYPES_PARAM_MAX, profile_live_event_type_ok,
                     "comment, like, gift, join, follow, share, viewers, status", &types))
        return OK;
    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_live_events(c, p, id, since, (int)limit, types, &last_offset, &bodies,
                             &offsets);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "There is no live session with this id");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "reading live session events");
    has_more = bodies->nelts > limit;
    n = has_more ? (int)limit : bodies->nelts;
    next_since = n ? APR_ARRAY_IDX(offsets, n - 1, apr_int64_t) : since;

    /* id holds only [A-Za-z0-9_-]: nothing to escape. */
    head = apr_pstrcat(p, "{\"session_id\":\"", id, "\",\"events\":[", NULL);
    tail = apr_psprintf(p, "],\"next_since\":%" APR_INT64_T_FMT ",\"has_more\":%s,"
                        "\"last_offset\":%" APR_INT64_T_FMT "}", next_since,
                        has_more ? "true" : "false", last_offset);
    parts = apr_palloc(p, sizeof(*parts) * (apr_size_t)(2 * n + 2));
    parts[0].iov_base = (void *)head;
    parts[0].iov_len = strlen(head);
    for (i = 0; i < n; i++) {
        const char *b = APR_ARRAY_IDX(bodies, i, const char *);
        parts[1 + 2 * i].iov_base = (void *)(i ? "," : "");
        parts[1 + 2 * i].iov_len = i ? 1 : 0;
        parts[2 + 2 * i].iov_base = (void *)b;
        parts[2 + 2 * i].iov_len = strlen(b);
    }
    parts[2 * n + 1].iov_base = (void *)tail;
    parts[2 * n + 1].iov_len = strlen(tail);
    text = apr_pstrcatv(p, parts, (apr_size_t)(2 * n + 2), &len);
    return profile_send_json_text(pr, HTTP_OK, text, len);
}
