/* The WebSocket gateway (see ws_gate.h): checks an upgrade before mod_proxy forwards it to the
 * sidecar, caps the principal's open streams, and replaces the identity headers with signed
 * ones. Every refusal is the API's error JSON, answered before anything reaches the sidecar. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "live_identity.h"
#include "auth/authn.h"
#include "config/config.h"
#include "routes/request.h"
#include "store/live_sessions.h"
#include "util/respond.h"
#include "ws/ws_gate.h"
#include "ws/ws_slots.h"

/* An error answer has been sent from a hook: httpd must stop processing the request. */
static int answered(int rc)
{
    return rc == OK ? DONE : rc;
}

/* "key:<id>", "user:<id>", or "static:<name>" for a ProfileAPIKey key. */
static const char *principal_name(apr_pool_t *p, const profile_principal_t *who)
{
    switch (who->kind) {
    case PROFILE_PRINCIPAL_API_KEY:
        return apr_pstrcat(p, "key:", who->key_id, NULL);
    case PROFILE_PRINCIPAL_USER:
        return apr_psprintf(p, "user:%" APR_INT64_T_FMT, who->user_id);
    case PROFILE_PRINCIPAL_STATIC_KEY:
        break;
    }
    return who->name;
}

/* Space-separated scope names; admin holds every scope, so they are all named. */
static const char *scope_list(apr_pool_t *p, unsigned scopes)
{
    const char **names, *out = "";
    int i, n;

    if (scopes & PROFILE_SCOPE_ADMIN)
        scopes = PROFILE_SCOPE_ALL;
    names = profile_scopes_names(p, scopes, &n);
    for (i = 0; i < n; i++)
        out = i ? apr_pstrcat(p, out, " ", names[i], NULL) : names[i];
    return out;
}

static int sign_request(request_rec *r, profile_request_t *pr, const char *principal,
                        const char *scopes, const char *session_id)
{
    const profile_ws_server_config_t *ws = &profile_server_config(r->server)->ws;
    apr_int64_t now = apr_time_sec(apr_time_now());
    char sig[LIVE_IDENTITY_SIG_LEN + 1];

    if (!ws->secret
        || live_identity_sign(ws->secret, ws->secret_len, now, principal, scopes, session_id,
                              sig) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10822)
                      "cannot sign the identity of a WebSocket upgrade for %s: %s", principal,
                      ws->secret ? "a field is too long" : "no ProfileSidecarSecret");
        return answered(profile_send_error(pr, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                                           NULL, "The server could not complete the request"));
    }
    /* The client's were dropped at post_read_request; the ones AuthType Profile added for
     * other backends are replaced by the signed set. */
    profile_strip_identity_headers(r);
    apr_table_setn(r->headers_in, "X-Profile-Principal", principal);
    apr_table_setn(r->headers_in, "X-Profile-Scopes", scopes);
    apr_table_setn(r->headers_in, "X-Profile-Time", apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                                                 now));
    apr_table_setn(r->headers_in, "X-Profile-Signature", apr_pstrdup(r->pool, sig));
    return DECLINED;
}

/* The principal holding comments:read: OK, or an error answer (401, 403, 503) sent. */
static int principal_of(request_rec *r, profile_request_t *pr, const profile_principal_t **who)
{
    profile_authn_failure_t why;
    int status = profile_authenticate(r, who, &why);

    if (status == HTTP_SERVICE_UNAVAILABLE)
        return answered(profile_send_unavailable(pr, why.retry_after_s, "%s", why.description));
    if (status != OK) {
        profile_authn_challenge(r, &why);
        return answered(profile_send_error(pr, HTTP_UNAUTHORIZED,
                                           why.error ? why.error : "unauthorized", NULL, "%s",
                                           why.description));
    }
    if (!profile_scopes_cover((*who)->scopes, PROFILE_SCOPE_COMMENTS_READ))
        return answered(profile_send_error(pr, HTTP_FORBIDDEN, "forbidden",
                                           json_pack("{s:[s]}", "required_scopes",
                                                     "comments:read"),
                                           "This credential lacks a scope the endpoint "
                                           "requires"));
    return OK;
}

int profile_ws_fixups(request_rec *r)
{
    const profile_dir_config_t *d;
    const profile_principal_t *who;
    profile_request_t *pr;
    const char *upgrade, *session_id, *principal;
    int max, open, rc;

    /* Subrequests and internal redirects: the request the client sent was decided already. */
    if (r->main || r->prev)
        return DECLINED;
    d = profile_dir_config(r);
    if (!d || !profile_ws_enabled(&d->ws))
        return DECLINED;
    pr = profile_request_get(r);

    upgrade = apr_table_get(r->headers_in, "Upgrade");
    if (strcmp(r->method, "GET") || !upgrade || !ap_find_token(r->pool, upgrade, "websocket"))
        return answered(profile_send_error(pr, HTTP_BAD_REQUEST, "not_websocket",
                                           json_pack("{s:s}", "upgrade", "websocket"),
                                           "This path serves WebSocket streams only: send a GET "
                                           "with Upgrade: websocket"));
    if (!(session_id = profile_live_session_id_of_path(r->pool, r->uri)))
        return answered(profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_session_id",
                                           json_pack("{s:s}", "session_id",
                                                     "must be 1 to 64 of A-Z a-z 0-9 _ -"),
                                           "The path must end in /comments/<session_id>, the id "
                                           "1 to 64 of A-Z a-z 0-9 _ -"));
    if ((rc = principal_of(r, pr, &who)) != OK)
        return rc;

    principal = principal_name(r->pool, who);
    max = profile_ws_max_per_key(&d->ws);
    rc = profile_ws_slots_acquire(r, principal, max, &open);
    if (rc == PROFILE_WS_OVER_LIMIT) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10826)
                      "WebSocket stream refused: %s already has %d open (limit %d)", principal,
                      open, max);
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return answered(profile_send_error(pr, HTTP_TOO_MANY_REQUESTS, "too_many_streams",
                                           json_pack("{s:i,s:i}", "limit", max, "open", open),
                                           "At most %d WebSocket streams may be open at once "
                                           "for this credential", max));
    }
    if (rc == PROFILE_WS_TABLE_FULL && max > 0)
        return answered(profile_send_unavailable(pr, 1, "Too many WebSocket streams are open "
                                                 "on this server; try again shortly"));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10825)
                  "WebSocket stream %d of %s to session %s", open, principal, session_id);
    apr_table_setn(r->notes, "profile-ws-session", session_id);
    return sign_request(r, pr, principal, scope_list(r->pool, who->scopes), session_id);
}
