/* Bounded request body reading and JSON parsing; see body.h. */
#include <apr_strings.h>
#include <string.h>

#include "util/body.h"
#include "util/respond.h"

#define READ_CHUNK 8192

/* An error answer has been sent: the handler must stop. */
#define ANSWERED(send) ((void)(send), DONE)

static apr_status_t decref_json(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

static int too_large(profile_request_t *pr, apr_off_t limit)
{
    /* The rest of the body stays unread, so the connection cannot be reused. */
    pr->r->connection->keepalive = AP_CONN_CLOSE;
    return ANSWERED(profile_send_error(pr, HTTP_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
                              json_pack("{s:I}", "max_bytes", (json_int_t)limit),
                              "The request body exceeds the limit of %" APR_OFF_T_FMT " bytes",
                              limit));
}

static int is_json_type(const char *ct)
{
    apr_size_t n = sizeof("application/json") - 1;
    return ct && strncasecmp(ct, "application/json", n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int profile_body_read_json(profile_request_t *pr)
{
    request_rec *r = pr->r;
    apr_off_t limit = profile_max_body(pr->dconf), declared = -1, used = 0, cap;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    char *buf, *end;
    json_error_t jerr;
    long got;

    if (!cl && !apr_table_get(r->headers_in, "Transfer-Encoding"))
        return OK;
    if (cl) {
        if (apr_strtoff(&declared, cl, &end, 10) != APR_SUCCESS || *end || declared < 0)
            return ANSWERED(profile_send_error(pr, HTTP_BAD_REQUEST, "bad_request", NULL,
                                      "Content-Length is not a number"));
        if (declared == 0)
            return OK;
        if (declared > limit)
            return too_large(pr, limit);
    }
    if (!is_json_type(apr_table_get(r->headers_in, "Content-Type")))
        return ANSWERED(profile_send_error(pr, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                  NULL, "Request bodies must be sent as application/json"));
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK)
        return ANSWERED(profile_send_error(pr, HTTP_BAD_REQUEST, "bad_request", NULL,
                                  "The request body could not be read"));

    /* Known length: one allocation. Chunked: grow by doubling, never past the limit. */
    cap = declared > 0 ? declared : (limit < READ_CHUNK ? limit : READ_CHUNK);
    buf = apr_palloc(r->pool, (apr_size_t)cap);
    for (;;) {
        if (used == declared)
            break;
        if (used == cap) {
            char *bigger;
            if (cap >= limit) {
                char probe;
                if (ap_get_client_block(r, &probe, 1) <= 0)
                    break;
                return too_large(pr, limit);
            }
            cap = cap * 2 > limit ? limit : cap * 2;
            bigger = apr_palloc(r->pool, (apr_size_t)cap);
            memcpy(bigger, buf, (apr_size_t)used);
            buf = bigger;
        }
        got = ap_get_client_block(r, buf + used, (apr_size_t)(cap - used));
        if (got == 0)
            break;
        if (got < 0)
            return ANSWERED(profile_send_error(pr, HTTP_BAD_REQUEST, "bad_request", NULL,
                                      "The request body could not be read"));
        used += got;
    }
    if (used == 0)
        return OK;

    pr->body = json_loadb(buf, (size_t)used, JSON_REJECT_DUPLICATES, &jerr);
    if (!pr->body)
        return ANSWERED(profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_json",
                                  json_pack("{s:i,s:i}", "line", jerr.line, "column", jerr.column),
                                  "The request body is not valid JSON: %s", jerr.text));
    apr_pool_cleanup_register(r->pool, pr->body, decref_json, apr_pool_cleanup_null);
    return OK;
}
