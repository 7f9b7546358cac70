/* Reading client input for the account handlers: body fields with their validation problems,
 * and query parameters; see handler_util.h. */
#include <apr_strings.h>
#include <errno.h>
#include <string.h>

#include "auth/identity.h"
#include "handlers/handler_util.h"
#include "util/respond.h"

static apr_status_t decref_json(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

json_t *profile_handler_body(profile_request_t *pr)
{
    json_t *empty;

    if (pr->body) {
        if (json_is_object(pr->body))
            return pr->body;
        profile_send_error(pr, HTTP_BAD_REQUEST, "validation_failed", NULL,
                           "The request body must be a JSON object");
        return NULL;
    }
    empty = json_object();
    apr_pool_cleanup_register(pr->r->pool, empty, decref_json, apr_pool_cleanup_null);
    return empty;
}

void profile_field_problem(json_t *fields, const char *name, const char *message)
{
    json_t *list = json_object_get(fields, name);

    if (!list) {
        list = json_array();
        json_object_set_new(fields, name, list);
    }
    json_array_append_new(list, json_string(message));
}

int profile_send_validation(profile_request_t *pr, json_t *fields)
{
    return profile_send_error(pr, HTTP_BAD_REQUEST, "validation_failed",
                              json_pack("{s:o}", "fields", fields),
                              "Some fields are missing or invalid");
}

/* Characters of a UTF-8 string of len bytes; -1 when it is not well-formed UTF-8 (which
 * PostgreSQL would refuse) or holds a control character that is not allowed. */
static long text_chars(const unsigned char *s, apr_size_t len, int allow_control)
{
    apr_size_t i = 0, k, follow;
    long n = 0;

    while (i < len) {
        unsigned char c = s[i], lo = 0x80, hi = 0xbf;

        if (c == 0 || (!allow_control && (c < 0x20 || c == 0x7f)))
            return -1;
        if (c < 0x80)
            follow = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            follow = 1;
        else if (c >= 0xe0 && c <= 0xef)
            follow = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            follow = 3;
        else
            return -1;
        /* No overlong forms, surrogates or code points above U+10FFFF. */
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        else if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        if (len - i <= follow || (follow && (s[i + 1] < lo || s[i + 1] > hi)))
            return -1;
        for (k = 2; k <= follow; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
        i += follow + 1;
        n++;
    }
    return n;
}

/* The value of name: NULL when absent or null. A missing required field is a problem. */
static json_t *field(json_t *body, const char *name, int flags, json_t *fields)
{
    json_t *v = json_object_get(body, name);

    if (v && !json_is_null(v))
        return v;
    if (flags & PROFILE_FIELD_REQUIRED)
        profile_field_problem(fields, name, "is required");
    return NULL;
}

const char *profile_field_string(apr_pool_t *p, json_t *body, const char *name,
                                 apr_size_t max_chars, int flags, json_t *fields)
{
    json_t *v = field(body, name, flags, fields);
    const char *s;
    apr_size_t len;
    long chars;

    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        profile_field_problem(fields, name, "must be a string");
        return NULL;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    chars = text_chars((const unsigned char *)s, len, flags & PROFILE_FIELD_CONTROL);
    if (chars < 0) {
        profile_field_problem(fields, name, "must not contain control characters");
        return NULL;
    }
    if ((apr_size_t)chars > max_chars) {
        profile_field_problem(fields, name,
                              apr_psprintf(p, "must be at most %lu characters",
                                           (unsigned long)max_chars));
        return NULL;
    }
    return apr_pstrmemdup(p, s, len);
}

int profile_field_int(json_t *body, const char *name, json_int_t min, json_int_t max, int flags,
                      json_int_t *out, json_t *fields)
{
    json_t *v = field(body, name, flags, fields);
    char msg[96];

    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max) {
        *out = json_integer_value(v);
        return 1;
    }
    apr_snprintf(msg, sizeof(msg), "must be an integer from %" APR_INT64_T_FMT " to %"
                 APR_INT64_T_FMT, (apr_int64_t)min, (apr_int64_t)max);
    profile_field_problem(fields, name, msg);
    return -1;
}

int profile_field_bool(json_t *body, const char *name, int flags, int *out, json_t *fields)
{
    json_t *v = field(body, name, flags, fields);

    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        profile_field_problem(fields, name, "must be true or false");
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

void profile_check_username(json_t *fields, const char *username)
{
    if (!profile_username_length_ok(username))
        profile_field_problem(fields, "username", "must be 3 to 32 characters long");
    if (!profile_username_chars_ok(username))
        profile_field_problem(fields, "username",
                              "may contain only letters, digits, '_', '.' and '-'");
}

void profile_check_email(json_t *fields, const char *email)
{
    if (!profile_email_ok(email))
        profile_field_problem(fields, "email", "must be an email address (name@example.com)");
}

void profile_check_password(profile_request_t *pr, json_t *fields, const char *password,
                            const char *username)
{
    const profile_auth_config_t *auth = &pr->sconf->auth;
    apr_array_header_t *unmet = profile_password_check(pr->r->pool, password, username,
                                                       profile_auth_password_min_length(auth),
                                                       auth->blocklist);
    int i;
    for (i = 0; unmet && i < unmet->nelts; i++)
        profile_field_problem(fields, "password", APR_ARRAY_IDX(unmet, i, const char *));
}

char *profile_query_param(apr_pool_t *p, const char *args, const char *name)
{
    apr_size_t len = strlen(name);

    while (args && *args) {
        apr_size_t seg = strcspn(args, "&");

        if (seg >= len && strncmp(args, name, len) == 0) {
            if (seg == len)
                return apr_pstrdup(p, "");
            if (args[len] == '=')
                return apr_pstrndup(p, args + len + 1, seg - len - 1);
        }
        args += seg;
        if (*args == '&')
            args++;
    }
    return NULL;
}

static int bad_param(profile_request_t *pr, const char *name, const char *what)
{
    return profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_parameter",
                              json_pack("{s:s}", "parameter", name), "%s %s", name, what);
}

int profile_query_string(profile_request_t *pr, const char *name, apr_size_t max_chars,
                         const char **value)
{
    char *raw = profile_query_param(pr->r->pool, pr->r->args, name);
    long chars;

    if (!raw)
        return 0;
    if (ap_unescape_urlencoded(raw) != OK
        || (chars = text_chars((const unsigned char *)raw, strlen(raw), 0)) < 0) {
        bad_param(pr, name, "is not a valid text value");
        return -1;
    }
    if ((apr_size_t)chars > max_chars) {
        bad_param(pr, name, apr_psprintf(pr->r->pool, "must be at most %lu characters",
                                         (unsigned long)max_chars));
        return -1;
    }
    *value = raw;
    return 1;
}

int profile_query_int(profile_request_t *pr, const char *name, apr_int64_t min, apr_int64_t max,
                      apr_int64_t def, apr_int64_t *out)
{
    const char *raw;
    char *end;
    apr_int64_t v;
    int rc = profile_query_string(pr, name, 20, &raw);

    *out = def;
    if (rc <= 0)
        return rc;
    errno = 0;
    v = apr_strtoi64(raw, &end, 10);
    if (!*raw || *end || errno == ERANGE || v < min || v > max) {
        bad_param(pr, name, apr_psprintf(pr->r->pool, "must be an integer from %" APR_INT64_T_FMT
                                         " to %" APR_INT64_T_FMT, min, max));
        return -1;
    }
    *out = v;
    return 0;
}

int profile_query_bool(profile_request_t *pr, const char *name, int *out)
{
    const char *raw;
    int rc = profile_query_string(pr, name, 5, &raw);

    *out = -1;
    if (rc <= 0)
        return rc;
    if (!strcmp(raw, "true") || !strcmp(raw, "1"))
        *out = 1;
    else if (!strcmp(raw, "false") || !strcmp(raw, "0"))
        *out = 0;
    else {
        bad_param(pr, name, "must be true or false");
        return -1;
    }
    return 0;
}

apr_int64_t profile_parse_id(const char *s)
{
    apr_int64_t v = 0;
    int digits = 0;

    if (!s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || ++digits > 18)
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}
