/* The API's request hooks: request ids for every request, and the `profile` handler that
 * routes, checks the API version and the body, then calls the route's handler. */
#include <apr_strings.h>
#include <string.h>

#include "auth/authn.h"
#include "routes/dispatch.h"
#include "routes/request.h"
#include "routes/routes.h"
#include "util/body.h"
#include "util/request_id.h"
#include "util/respond.h"

int profile_post_read_request(request_rec *r)
{
    profile_request_t *pr;
    const char *incoming;

    if (r->main || r->prev)
        return DECLINED;
    profile_authn_sanitize_request(r);
    if (!profile_engine_enabled(profile_dir_config(r)))
        return DECLINED;
    pr = profile_request_get(r);
    incoming = apr_table_get(r->headers_in, PROFILE_REQUEST_ID_HEADER);
    if (profile_request_id_valid(incoming))
        pr->request_id = incoming;
    /* The log id puts the request id in every error log line of the request (%L). */
    r->log_id = pr->request_id;
    apr_table_setn(r->notes, "profile-request-id", pr->request_id);
    apr_table_setn(r->err_headers_out, PROFILE_REQUEST_ID_HEADER, pr->request_id);
    return DECLINED;
}

/* The route's own minimum, enforced whatever the configuration around it says. */
static int authorize_route(profile_request_t *pr)
{
    profile_authn_failure_t why;
    int status;

    if (pr->route->auth == PROFILE_AUTH_PUBLIC)
        return OK;
    status = profile_authenticate(pr->r, &pr->principal, &why);
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        profile_send_unavailable(pr, why.retry_after_s, "%s", why.description);
        return DONE;
    }
    if (status != OK) {
        profile_authn_challenge(pr->r, &why);
        profile_send_error(pr, HTTP_UNAUTHORIZED, why.error ? why.error : "unauthorized", NULL,
                           "%s", why.description);
        return DONE;
    }
    if (!profile_scopes_cover(pr->principal->scopes, pr->route->scopes)) {
        int n;
        const char **names = profile_scopes_names(pr->r->pool, pr->route->scopes, &n);
        json_t *needed = json_array();
        while (n-- > 0)
            json_array_insert_new(needed, 0, json_string(names[n]));
        profile_send_error(pr, HTTP_FORBIDDEN, "forbidden", json_pack("{s:o}", "required_scopes",
                                                                      needed),
                           "This credential lacks a scope the endpoint requires");
        return DONE;
    }
    return OK;
}

static int unsupported_api_version(profile_request_t *pr)
{
    const char *asked = apr_table_get(pr->r->headers_in, "API-Version");
    return asked && strcmp(asked, PROFILE_API_VERSION) != 0;
}

int profile_handler(request_rec *r)
{
    profile_request_t *pr;
    profile_match_t match;
    const char *path;

    if (!r->handler || strcmp(r->handler, PROFILE_HANDLER_NAME) != 0)
        return DECLINED;
    pr = profile_request_get(r);
    pr->dconf = profile_dir_config(r);
    if (!profile_engine_enabled(pr->dconf))
        return DECLINED;
    pr->sconf = profile_server_config(r->server);
    apr_table_setn(r->notes, "profile-handled", "1");
    apr_table_setn(r->err_headers_out, "API-Version", PROFILE_API_VERSION);

    path = profile_route_path(r->uri);
    switch (profile_route_match(r->pool, profile_routes, profile_route_count, r->method_number,
                                path ? path : "", &match)) {
    case PROFILE_MATCH_NO_PATH:
        return profile_send_error(pr, HTTP_NOT_FOUND, "not_found", NULL,
                                  "There is no endpoint at this path");
    case PROFILE_MATCH_BAD_METHOD:
        apr_table_setn(r->err_headers_out, "Allow", profile_allow_header(r->pool, match.allowed));
        if (r->method_number == M_OPTIONS) {
            r->status = HTTP_NO_CONTENT;
            return OK;
        }
        return profile_send_error(pr, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                  json_pack("{s:s}", "allow",
                                            profile_allow_header(r->pool, match.allowed)),
                                  "%s is not allowed here", r->method);
    case PROFILE_MATCH_FOUND:
        break;
    }
    pr->route = match.route;
    pr->route_index = match.route_index;
    pr->params = match.params;

    if (unsupported_api_version(pr))
        return profile_send_error(pr, HTTP_BAD_REQUEST, "unsupported_api_version",
                                  json_pack("{s:[s]}", "supported", PROFILE_API_VERSION),
                                  "API-Version must be %s (the versions this server speaks)",
                                  PROFILE_API_VERSION);
    if (authorize_route(pr) != OK || profile_body_read_json(pr) != OK)
        return OK;
    return pr->route->handler(pr);
}
