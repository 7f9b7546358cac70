/* Recording lines (the streamed schema without session_id and offset) → events, for the
 * replay source (events/event.h: live_event_parse). Strict: every field has its JSON type
 * and bound, an unknown type or a bad username is an error; unknown keys are ignored. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"

#define GIFT_NAME_MAX 255        /* as rendered (events/event.c) */
#define STATUS_MAX    16
#define REASON_MAX    64

static void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg);
}

/* "2026-11-24T10:00:00.123Z" or with "+01:00"; fractions of any length. -1 when invalid. */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0;
    int64_t us = 0, scale = 100000, off = 0;
    time_t t;

    static const char shape[] = "dddd-dd-ddTdd:dd:dd";

    for (int i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return -1;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    s += n;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        for (; isdigit((unsigned char)*s); s++) {
            us += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s == 'Z') {
        s++;
    } else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
               isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
               isdigit((unsigned char)s[5])) {
        off = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 + ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
        if (*s == '-')
            off = -off;
        s += 6;
    } else {
        return -1;
    }
    if (*s)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = ((int64_t)t - off) * 1000000 + us;
    return 0;
}

/* A string member: absent/null → *out NULL (0); a string of at most max bytes → 0;
 * anything else → -1. */
static int opt_string(json_t *obj, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max)
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int req_int(json_t *obj, const char *key, json_int_t max, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int parse_user(live_event_t *ev, json_t *user, char *err, size_t errlen)
{
    const char *id, *username, *nickname, *avatar;

    if (!user || json_is_null(user))
        return 0;
    if (!json_is_object(user)) {
        set_err(err, errlen, "%s", "user must be an object or null");
        return -1;
    }
    if (opt_string(user, "id", LIVE_USER_ID_MAX, &id) || opt_string(user, "username",
        LIVE_USERNAME_MAX + 1, &username) || opt_string(user, "nickname", LIVE_NICKNAME_MAX,
        &nickname) || opt_string(user, "avatar_url", LIVE_AVATAR_URL_MAX, &avatar)) {
        set_err(err, errlen, "%s", "user fields must be strings within their bounds");
        return -1;
    }
    if (live_event_set_user(ev, id, username, nickname, avatar) != 0) {
        set_err(err, errlen, "%s", "user.username is not a TikTok username");
        return -1;
    }
    return 0;
}

/* The type fields of a recording line, checked and copied into ev->fields. */
static int parse_fields(live_event_t *ev, json_t *obj, char *err, size_t errlen)
{
    const char *s, *reason;
    json_int_t a, b, c, d;
    const json_int_t big = (json_int_t)1 << 53, i32 = 2147483647;
    json_t *f = ev->fields;
    int rc = 0;

    switch (ev->type) {
    case LIVE_EV_COMMENT:
        if (opt_string(obj, "text", LIVE_TEXT_MAX, &s) || !s)
            goto bad;
        rc = json_object_set_new(f, "text", json_string(s));
        break;
    case LIVE_EV_LIKE:
        if (req_int(obj, "count", i32, &a))
            goto bad;
        rc = json_object_set_new(f, "count", json_integer(a));
        if (json_is_null(json_object_get(obj, "total")) || !json_object_get(obj, "total"))
            rc |= json_object_set_new(f, "total", json_null());
        else if (req_int(obj, "total", big, &b) == 0)
            rc |= json_object_set_new(f, "total", json_integer(b));
        else
            goto bad;
        break;
    case LIVE_EV_GIFT:
        if (req_int(obj, "gift_id", big, &a) || opt_string(obj, "gift_name", GIFT_NAME_MAX, &s)
            || !s || req_int(obj, "count", i32, &c) || req_int(obj, "diamonds", big, &d))
            goto bad;
        rc = json_object_set_new(f, "gift_id", json_integer(a));
        rc |= json_object_set_new(f, "gift_name", json_string(s));
        rc |= json_object_set_new(f, "count", json_integer(c));
        rc |= json_object_set_new(f, "diamonds", json_integer(d));
        break;
    case LIVE_EV_VIEWERS:
        if (req_int(obj, "viewers", i32, &a))
            goto bad;
        rc = json_object_set_new(f, "viewers", json_integer(a));
        break;
    case LIVE_EV_STATUS:
        if (opt_string(obj, "status", STATUS_MAX, &s) || !s || opt_string(obj, "reason",
            REASON_MAX, &reason) || (strcmp(s, "connecting") && strcmp(s, "live") &&
            strcmp(s, "ended") && strcmp(s, "failed")))
            goto bad;
        for (const char *p = reason; p && *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                goto bad;
        rc = json_object_set_new(f, "status", json_string(s));
        rc |= json_object_set_new(f, "reason", reason && *reason ? json_string(reason)
                                                                 : json_null());
        break;
    default:
        break;
    }
    if (rc != 0) {
        set_err(err, errlen, "%s", "out of memory");
        return -1;
    }
    return 0;
bad:
    set_err(err, errlen, "bad or missing fields for a %s event", live_event_type_name(ev->type));
    return -1;
}

live_event_t *live_event_parse(const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *obj, *v;
    live_event_t *ev = NULL;
    live_event_type_t type;
    const char *id;

    obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        set_err(err, errlen, "not JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        set_err(err, errlen, "%s", "not a JSON object");
        goto fail;
    }
    v = json_object_get(obj, "type");
    if (!json_is_string(v) ||
        live_event_type_parse(json_string_value(v), json_string_length(v), &type) != 0) {
        set_err(err, errlen, "%s", "missing or unknown type");
        goto fail;
    }
    ev = live_event_new(type);
    if (!ev) {
        set_err(err, errlen, "%s", "out of memory");
        goto fail;
    }
    if (opt_string(obj, "id", LIVE_UPSTREAM_ID_MAX, &id)) {
        set_err(err, errlen, "id must be a string of at most %s bytes", "64");
        goto fail;
    }
    if (id)
        memcpy(ev->upstream_id, id, strlen(id) + 1);
    v = json_object_get(obj, "time");
    if (!json_is_string(v) || parse_time(json_string_value(v), &ev->created_us) != 0) {
        set_err(err, errlen, "%s", "time must be an ISO-8601 UTC time");
        goto fail;
    }
    if (parse_user(ev, json_object_get(obj, "user"), err, errlen) != 0 ||
        parse_fields(ev, obj, err, errlen) != 0)
        goto fail;
    json_decref(obj);
    return ev;
fail:
    live_event_free(ev);
    json_decref(obj);
    return NULL;
}
