/* GET /admin/audit: the security audit log, newest first, with filters and a cursor. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "store/audit.h"
#include "util/respond.h"

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 100
#define EVENT_NAME_MAX 32
#define ID_MAX APR_INT64_C(999999999999999999)

/* Exactly n digits at *s, advancing it; -1 when they are not there. */
static int digits(const char **s, int n)
{
    int v = 0;

    while (n-- > 0) {
        if (**s < '0' || **s > '9')
            return -1;
        v = v * 10 + (*(*s)++ - '0');
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return days[month - 1] + (month == 2 && leap);
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fraction]] with Z, ±HH:MM, ±HHMM or nothing (UTC).
 * 0 with *out set, -1 when s is not such a time. */
static int parse_iso8601(const char *s, apr_time_t *out)
{
    apr_time_exp_t e;
    int year, offset_s = 0, sign, oh, om, scale = 100000;

    memset(&e, 0, sizeof(e));
    if ((year = digits(&s, 4)) < 1970 || *s++ != '-' || (e.tm_mon = digits(&s, 2)) < 1
        || e.tm_mon > 12 || *s++ != '-' || (e.tm_mday = digits(&s, 2)) < 1
        || e.tm_mday > days_in_month(year, e.tm_mon))
        return -1;
    if (*s == 'T' || *s == 't') {
        s++;
        if ((e.tm_hour = digits(&s, 2)) < 0 || e.tm_hour > 23 || *s++ != ':'
            || (e.tm_min = digits(&s, 2)) < 0 || e.tm_min > 59)
            return -1;
        if (*s == ':') {
            s++;
            if ((e.tm_sec = digits(&s, 2)) < 0 || e.tm_sec > 59)
                return -1;
        }
        if (*s == '.' && s[1] >= '0' && s[1] <= '9')
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                e.tm_usec += (*s - '0') * scale;
        if (*s == 'Z' || *s == 'z')
            s++;
        /* An unescaped '+' in a query string arrives as a space. */
        else if (*s == '+' || *s == ' ' || *s == '-') {
            sign = *s++ == '-' ? -1 : 1;
            om = 0;
            if ((oh = digits(&s, 2)) < 0 || oh > 23)
                return -1;
            if (*s == ':')
                s++;
            if (*s && ((om = digits(&s, 2)) < 0 || om > 59))
                return -1;
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*s)
        return -1;
    e.tm_year = year - 1900;
    e.tm_mon -= 1;
    if (apr_time_exp_gmt_get(out, &e) != APR_SUCCESS)
        return -1;
    *out -= apr_time_from_sec(offset_s);
    return 0;
}

/* ?name= as a time: 0 (with *out 0 when absent), or -1 after a 400 answer. */
static int query_time(profile_request_t *pr, const char *name, apr_time_t *out)
{
    const char *raw;
    int rc = profile_query_string(pr, name, 40, &raw);

    *out = 0;
    if (rc <= 0)
        return rc;
    if (parse_iso8601(raw, out) != 0 || *out <= 0) {
        profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_parameter",
                           json_pack("{s:s}", "parameter", name),
                           "%s must be an ISO 8601 time such as 2026-11-23T10:00:00Z", name);
        return -1;
    }
    return 0;
}

int profile_handle_admin_audit(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    profile_audit_query_t q;
    apr_int64_t limit, next = 0;
    json_t *items = NULL;
    PGconn *c;

    memset(&q, 0, sizeof(q));
    if (profile_query_string(pr, "event", EVENT_NAME_MAX, &q.event) < 0
        || profile_query_int(pr, "user_id", 1, ID_MAX, 0, &q.user_id) != 0
        || query_time(pr, "since", &q.since) != 0 || query_time(pr, "until", &q.until) != 0
        || profile_query_int(pr, "cursor", 1, ID_MAX, 0, &q.before_id) != 0
        || profile_query_int(pr, "limit", 1, AUDIT_LIMIT_MAX, AUDIT_LIMIT_DEFAULT, &limit) != 0)
        return OK;
    if (q.event && (!*q.event || q.event[strspn(q.event, "abcdefghijklmnopqrstuvwxyz_")]))
        return profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_parameter",
                                  json_pack("{s:s}", "parameter", "event"),
                                  "event must be an event name such as login_failure");
    q.limit = (int)limit;

    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_audit_list(c, &q, &items, &next) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "listing audit events");
    return profile_send_json(pr, HTTP_OK,
                             json_pack("{s:o,s:o}", "events", items ? items : json_array(),
                                       "next_cursor",
                                       next ? json_string(apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                                       next))
                                            : json_null()));
}
