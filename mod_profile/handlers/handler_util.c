/* The request's database connection, failures, JSON pieces, audit events and token answers
 * shared by the account handlers; see handler_util.h. Input readers are in handler_input.c. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "store/audit.h"
#include "store/pg_pool.h"
#include "util/respond.h"
#include "profiles/username.h"

/* The first line of a libpq message (which ends in a newline). */
static const char *pg_message(apr_pool_t *p, PGconn *c)
{
    const char *msg = c ? PQerrorMessage(c) : NULL;
    apr_size_t len = msg ? strcspn(msg, "\r\n") : 0;

    return len ? apr_pstrndup(p, msg, len) : "no message from libpq";
}

/* A connection that failed or was left inside a transaction must not go back to the pool. */
static void drop_if_unusable(profile_request_t *pr, PGconn *c)
{
    if (c && (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE))
        profile_db_mark_broken(pr->sconf->db_pool, pr->r, c);
}

PGconn *profile_handler_db(profile_request_t *pr)
{
    int retry_after_s = 1;
    PGconn *c;

    if (!pr->sconf->db_pool) {
        profile_send_unavailable(pr, 60, "ProfileDatabase is not configured");
        return NULL;
    }
    c = profile_db_acquire(pr->sconf->db_pool, pr->r, &retry_after_s);
    if (!c)
        profile_send_unavailable(pr, retry_after_s, "The database is unreachable");
    return c;
}

int profile_handler_store_failed(profile_request_t *pr, PGconn *c, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, pr->r, APLOGNO(10670) "%s failed: %s", what,
                  pg_message(pr->r->pool, c));
    drop_if_unusable(pr, c);
    return profile_send_unavailable(pr, 1, "The database failed to answer; try again");
}

int profile_handler_internal(profile_request_t *pr, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, pr->r, APLOGNO(10671) "%s failed", what);
    return profile_send_error(pr, HTTP_INTERNAL_SERVER_ERROR, "internal_error", NULL,
                              "The server could not complete the request");
}

int profile_handler_busy(profile_request_t *pr)
{
    apr_table_setn(pr->r->err_headers_out, "Retry-After", "1");
    return profile_send_error(pr, HTTP_SERVICE_UNAVAILABLE, "busy", NULL,
                              "Too many passwords are being checked right now; try again shortly");
}

int profile_handler_not_found(profile_request_t *pr, const char *message)
{
    return profile_send_error(pr, HTTP_NOT_FOUND, "not_found", NULL, "%s", message);
}

json_t *profile_time_json(apr_pool_t *p, apr_time_t t)
{
    return t ? json_string(profile_iso8601(p, t)) : json_null();
}

json_t *profile_scopes_json(apr_pool_t *p, unsigned scopes)
{
    int i, n;
    const char **names = profile_scopes_names(p, scopes, &n);
    json_t *a = json_array();

    for (i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

json_t *profile_user_json(apr_pool_t *p, const profile_user_t *u)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer((json_int_t)u->id));
    json_object_set_new(o, "username", json_string(u->username));
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "role", json_string(profile_role_name(u->role)));
    json_object_set_new(o, "active", json_boolean(u->active));
    json_object_set_new(o, "created_at", profile_time_json(p, u->created_at));
    json_object_set_new(o, "updated_at", profile_time_json(p, u->updated_at));
    return o;
}

int profile_principal_is_admin(const profile_principal_t *principal)
{
    return principal && (principal->scopes & PROFILE_SCOPE_ADMIN);
}

const char *profile_handler_user_agent(profile_request_t *pr)
{
    const char *ua = apr_table_get(pr->r->headers_in, "User-Agent");
    char *out;
    apr_size_t i, len;

    if (!ua || !*ua)
        return NULL;
    len = strlen(ua);
    if (len > PROFILE_USER_AGENT_MAX)
        len = PROFILE_USER_AGENT_MAX;
    out = apr_pstrndup(pr->r->pool, ua, len);
    /* Stored as text in a UTF-8 database: anything but printable ASCII becomes '?'. */
    for (i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    return out;
}

void profile_handler_audit(profile_request_t *pr, PGconn *c, const char *event,
                           apr_int64_t user_id, const char *principal, json_t *details)
{
    profile_audit_event_t e;

    e.event = event;
    e.user_id = user_id;
    e.principal = principal ? principal : pr->principal ? pr->principal->name : NULL;
    e.ip = pr->r->useragent_ip;
    e.user_agent = profile_handler_user_agent(pr);
    e.request_id = pr->request_id;
    e.details = details;
    if (profile_audit_record(c, &e) != PROFILE_STORE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, pr->r, APLOGNO(10672)
                      "recording the audit event %s failed: %s", event,
                      pg_message(pr->r->pool, c));
        drop_if_unusable(pr, c);
    }
    json_decref(details);
}

int profile_send_tokens(profile_request_t *pr, const profile_user_t *u, const char *family_id,
                        const char *refresh_token)
{
    apr_pool_t *p = pr->r->pool;
    const profile_jwt_config_t *cfg = pr->sconf->auth.jwt;
    profile_jwt_claims_t claims;
    const char **names, *scope = "", *token;
    int i, n;

    names = profile_scopes_names(p, profile_role_scopes(u->role), &n);
    for (i = 0; i < n; i++)
        scope = i ? apr_pstrcat(p, scope, " ", names[i], NULL) : names[i];
    memset(&claims, 0, sizeof(claims));
    claims.sub = apr_psprintf(p, "%" APR_INT64_T_FMT, u->id);
    claims.username = u->username;
    claims.role = profile_role_name(u->role);
    claims.scopes = scope;
    claims.sid = family_id;
    token = cfg ? profile_jwt_issue(p, cfg, &claims, apr_time_now()) : NULL;
    if (!token)
        return profile_handler_internal(pr, "signing an access token");
    return profile_send_json(pr, HTTP_OK,
                             json_pack("{s:s,s:s,s:i,s:s}", "access_token", token, "token_type",
                                       "bearer", "expires_in", cfg->access_lifetime_s,
                                       "refresh_token", refresh_token));
}

int profile_handler_tiktok_username(profile_request_t *pr, const char *raw,
                                    const char **username)
{
    const char *why = profile_tiktok_username(pr->r->pool, raw, username);
    if (!why)
        return 0;
    profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_username",
                       json_pack("{s:s}", "username", why), "Invalid TikTok username: %s", why);
    return -1;
}
