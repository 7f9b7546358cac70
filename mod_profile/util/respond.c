/* JSON answers and the error shape; see respond.h. */
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "util/respond.h"

const char *profile_iso8601(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec, e.tm_usec / 1000);
}

static apr_status_t free_text(void *text)
{
    free(text);
    return APR_SUCCESS;
}

int profile_send_json_text(profile_request_t *pr, int status, const char *text, apr_size_t len)
{
    request_rec *r = pr->r;
    r->status = status;
    ap_set_content_type(r, "application/json");
    if (!apr_table_get(r->headers_out, "Cache-Control"))
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(text, (int)len, r);
    return OK;
}

int profile_send_json(profile_request_t *pr, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12));

    json_decref(body);
    if (!text) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, pr->r, APLOGNO(10480)
                      "cannot serialise a JSON answer");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pr->r->pool, text, free_text, apr_pool_cleanup_null);
    return profile_send_json_text(pr, status, text, strlen(text));
}

/* Request paths come from the client: not always UTF-8, which JSON strings must be. */
static json_t *client_string(apr_pool_t *p, const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string(ap_escape_logitem(p, s));
}

static int send_error_v(profile_request_t *pr, int status, const char *error, json_t *details,
                        const char *fmt, va_list ap)
{
    request_rec *r = pr->r;
    const char *message = apr_pvsprintf(r->pool, fmt, ap);
    json_t *body = json_object();

    json_object_set_new(body, "error", json_string(error));
    json_object_set_new(body, "message", client_string(r->pool, message));
    json_object_set_new(body, "details", details ? details : json_null());
    json_object_set_new(body, "status", json_integer(status));
    json_object_set_new(body, "timestamp", json_string(profile_iso8601(r->pool, apr_time_now())));
    json_object_set_new(body, "path", client_string(r->pool, r->uri));
    json_object_set_new(body, "correlation_id", json_string(pr->request_id));

    if (status >= 500 && status != HTTP_SERVICE_UNAVAILABLE)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10481) "%d %s: %s", status, error,
                      message);
    else
        ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_INFO : APLOG_DEBUG, 0, r,
                      APLOGNO(10482) "%d %s: %s", status, error, message);
    return profile_send_json(pr, status, body);
}

int profile_send_error(profile_request_t *pr, int status, const char *error, json_t *details,
                       const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = send_error_v(pr, status, error, details, fmt, ap);
    va_end(ap);
    return rc;
}

int profile_send_unavailable(profile_request_t *pr, int retry_after_s, const char *fmt, ...)
{
    va_list ap;
    int rc;
    apr_table_setn(pr->r->err_headers_out, "Retry-After",
                   apr_itoa(pr->r->pool, retry_after_s > 0 ? retry_after_s : 1));
    va_start(ap, fmt);
    rc = send_error_v(pr, HTTP_SERVICE_UNAVAILABLE, "service_unavailable", NULL, fmt, ap);
    va_end(ap);
    return rc;
}
