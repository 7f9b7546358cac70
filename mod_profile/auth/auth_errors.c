/* The error JSON for httpd's own refusals in `AuthType Profile` locations. A 401 or 403 there
 * comes from httpd's authorization, not from a handler of ours, so httpd would answer with
 * its HTML page; clients of the API (WebSocket upgrades included) expect the same error JSON
 * as everywhere else. The insert_error_filter hook puts the JSON in as the error document
 * (unless the operator set an ErrorDocument) and a one-shot filter fixes the content type,
 * which httpd sets to text/html after the hook. */
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>

#include "http_core.h"
#include "mod_core.h"    /* ap_response_code_string: an ErrorDocument the operator set */

#include "profile.h"
#include "auth/authn.h"
#include "routes/request.h"
#include "util/respond.h"

#define ERROR_JSON_FILTER "PROFILE_ERROR_JSON"

static apr_status_t json_content_type(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static const char *error_code(request_rec *r, const char **message)
{
    const profile_principal_t *p;
    profile_authn_failure_t why = { 0 };

    switch (r->status) {
    case HTTP_UNAUTHORIZED:
        profile_authenticate(r, &p, &why);    /* the outcome is kept: no second lookup */
        *message = why.description ? why.description : "authentication required";
        return why.error ? why.error : "unauthorized";
    case HTTP_FORBIDDEN:
        *message = "the credential lacks a role or scope required here";
        return "forbidden";
    default:
        return NULL;
    }
}

static void profile_insert_error_json(request_rec *r)
{
    const char *type = ap_auth_type(r), *message = NULL, *error;
    json_t *body;
    char *text;

    if (!type || strcasecmp(type, PROFILE_AUTH_TYPE) || r->header_only ||
        ap_response_code_string(r, ap_index_of_response(r->status)))
        return;
    error = error_code(r, &message);
    if (!error)
        return;
    body = json_pack("{s:s, s:s, s:n, s:i, s:s, s:s, s:s}", "error", error, "message", message,
                     "details", "status", r->status,
                     "timestamp", profile_iso8601(r->pool, apr_time_now()),
                     "path", ap_escape_logitem(r->pool, r->uri),
                     "correlation_id", profile_request_get(r)->request_id);
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return;
    /* Text that is not a URL becomes a literal error document. */
    ap_custom_response(r, r->status, apr_pstrdup(r->pool, text));
    free(text);
    ap_add_output_filter(ERROR_JSON_FILTER, NULL, r, r->connection);
}

void profile_auth_errors_register(void)
{
    ap_register_output_filter(ERROR_JSON_FILTER, json_content_type, NULL, AP_FTYPE_RESOURCE);
    ap_hook_insert_error_filter(profile_insert_error_json, NULL, NULL, APR_HOOK_MIDDLE);
}
