/* The event model (events/event.h): construction, bounded and UTF-8-clean user fields and
 * the streamed JSON rendering (fixed key order, at most LIVE_EVENT_JSON_MAX bytes). The
 * parser for recording lines is in events/event_parse.c. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "events/event.h"
#include "events/utf8.h"

#define GIFT_NAME_MAX 255
#define STATUS_MAX    16
#define REASON_MAX    64

static const char *const type_names[LIVE_EV__COUNT] = {
    "comment", "like", "gift", "join", "follow", "share", "viewers", "status"
};

/* The type fields of each type, in the order they are rendered. */
static const char *const type_fields[LIVE_EV__COUNT][5] = {
    [LIVE_EV_COMMENT] = { "text", NULL },
    [LIVE_EV_LIKE]    = { "count", "total", NULL },
    [LIVE_EV_GIFT]    = { "gift_id", "gift_name", "count", "diamonds", NULL },
    [LIVE_EV_JOIN]    = { NULL },
    [LIVE_EV_FOLLOW]  = { NULL },
    [LIVE_EV_SHARE]   = { NULL },
    [LIVE_EV_VIEWERS] = { "viewers", NULL },
    [LIVE_EV_STATUS]  = { "status", "reason", NULL },
};

const char *live_event_type_name(live_event_type_t type)
{
    return (unsigned)type < LIVE_EV__COUNT ? type_names[type] : "unknown";
}

int live_event_type_parse(const char *name, size_t len, live_event_type_t *out)
{
    for (int t = 0; t < LIVE_EV__COUNT; t++)
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0) {
            *out = (live_event_type_t)t;
            return 0;
        }
    return -1;
}

unsigned live_event_types_parse(const char *csv)
{
    unsigned mask = 0;
    const char *p = csv;
    live_event_type_t t;

    if (!csv)
        return 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (live_event_type_parse(s, len, &t) != 0)
            return 0;
        mask |= 1u << t;
        if (!end)
            return mask;
        p = end + 1;
    }
}

/* A malloc'd copy of n bytes of src as valid UTF-8 of at most max bytes: invalid bytes and
 * NULs become U+FFFD, the text is cut on a character boundary. NULL on OOM. */
static char *utf8_clean(const char *src, size_t n, size_t max, size_t *outlen)
{
    char *out = malloc(max + 1);
    size_t o;

    if (!out)
        return NULL;
    o = live_utf8_copy(out, max, src, n);
    if (outlen)
        *outlen = o;
    return out;
}

live_event_t *live_event_new(live_event_type_t type)
{
    live_event_t *ev;

    if ((unsigned)type >= LIVE_EV__COUNT)
        return NULL;
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    ev->type = type;
    ev->fields = json_object();
    if (!ev->fields) {
        free(ev);
        return NULL;
    }
    return ev;
}

static void clear_user(live_event_t *ev)
{
    free(ev->user_id);
    free(ev->username);
    free(ev->nickname);
    free(ev->avatar_url);
    ev->user_id = ev->username = ev->nickname = ev->avatar_url = NULL;
}

/* NULL for NULL or "" (and for OOM: the field is then simply absent). */
static char *copy_text(const char *s, size_t max)
{
    return s && *s ? utf8_clean(s, strlen(s), max, NULL) : NULL;
}

static int avatar_ok(const char *url)
{
    size_t n;

    if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return 0;
    n = strlen(url);
    if (n > LIVE_AVATAR_URL_MAX || n <= (size_t)(url[4] == 's' ? 8 : 7))
        return 0;
    for (size_t i = 0; i < n; i++)   /* printable ASCII only: a cut or odd URL is no URL */
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f ||
            url[i] == '"' || url[i] == '\\')
            return 0;
    return 1;
}

/* All NULL: the event has no user. A username is optional (NULL or ""), but one that is not
 * a TikTok username (after dropping '@' and lower-casing: ^[a-z0-9_.]{2,24}$) makes the call
 * fail and leaves the event as it was. */
int live_event_set_user(live_event_t *ev, const char *id, const char *username,
                        const char *nickname, const char *avatar_url)
{
    char name[LIVE_USERNAME_MAX + 1] = "";

    if (username && *username) {
        const char *u = username[0] == '@' ? username + 1 : username;
        size_t n = strlen(u);
        if (n < 2 || n > LIVE_USERNAME_MAX)
            return -1;
        for (size_t i = 0; i < n; i++) {
            char c = (char)tolower((unsigned char)u[i]);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
                return -1;
            name[i] = c;
        }
        name[n] = '\0';
    }
    clear_user(ev);
    if (!(id && *id) && !name[0] && !(nickname && *nickname) && !avatar_ok(avatar_url))
        return 0;
    ev->user_id = copy_text(id, LIVE_USER_ID_MAX);
    ev->username = name[0] ? strdup(name) : NULL;
    ev->nickname = copy_text(nickname, LIVE_NICKNAME_MAX);
    ev->avatar_url = avatar_ok(avatar_url) ? strdup(avatar_url) : NULL;
    /* The user object is rendered when any of them is set: keep at least an empty id. */
    if (!ev->user_id && !ev->username && !ev->nickname && !ev->avatar_url)
        ev->user_id = strdup("");
    return 0;
}

void live_event_free(live_event_t *ev)
{
    if (!ev)
        return;
    clear_user(ev);
    json_decref(ev->fields);
    free(ev);
}

void live_event_free_chain(live_event_t *ev)
{
    while (ev) {
        live_event_t *next = ev->next;
        live_event_free(ev);
        ev = next;
    }
}

live_event_t *live_event_status(const char *status, const char *reason)
{
    live_event_t *ev = live_event_new(LIVE_EV_STATUS);

    if (!ev)
        return NULL;
    ev->created_us = live_now_us();
    if (json_object_set_new(ev->fields, "status", json_string(status ? status : "")) != 0 ||
        json_object_set_new(ev->fields, "reason",
                            reason && *reason ? json_string(reason) : json_null()) != 0) {
        live_event_free(ev);
        return NULL;
    }
    return ev;
}

/* ---- rendering ---------------------------------------------------------------------- */

/* A JSON string of n bytes of s, cleaned and cut to max; or null for NULL. */
static json_t *jstr(const char *s, size_t n, size_t max)
{
    size_t len;
    char *clean;
    json_t *j;

    if (!s)
        return json_null();
    clean = utf8_clean(s, n, max, &len);
    if (!clean)
        return NULL;
    j = json_stringn(clean, len);
    free(clean);
    return j;
}

static size_t field_max(const char *name)
{
    if (strcmp(name, "text") == 0)
        return LIVE_TEXT_MAX;
    if (strcmp(name, "status") == 0)
        return STATUS_MAX;
    if (strcmp(name, "reason") == 0)
        return REASON_MAX;
    return GIFT_NAME_MAX;
}

/* The value to render for a type field: a bounded string, an integer, or null. text_max
 * overrides the bound of "text" (the comment is cut further to fit the whole event). */
static json_t *field_value(const live_event_t *ev, const char *name, size_t text_max)
{
    json_t *v = ev->fields ? json_object_get(ev->fields, name) : NULL;

    if (json_is_string(v)) {
        size_t max = strcmp(name, "text") == 0 ? text_max : field_max(name);
        return jstr(json_string_value(v), json_string_length(v), max);
    }
    if (json_is_integer(v))
        return json_integer(json_integer_value(v));
    if (json_is_real(v) && json_real_value(v) >= -9007199254740992.0 &&
        json_real_value(v) <= 9007199254740992.0)
        return json_integer((json_int_t)json_real_value(v));
    if (json_is_boolean(v))
        return json_integer(json_is_true(v));
    return json_null();
}

static int put(json_t *obj, const char *key, json_t *value)
{
    return value ? json_object_set_new(obj, key, value) : -1;
}

static char *render_once(const live_event_t *ev, const char *session_id, int64_t offset,
                         size_t text_max, int with_profile)
{
    char when[32];
    json_t *obj = json_object(), *user = NULL;
    char *out = NULL;
    int rc = 0;

    if (!obj)
        return NULL;
    live_iso8601_ms(ev->created_us, when, sizeof(when));
    rc |= put(obj, "session_id", jstr(session_id, session_id ? strlen(session_id) : 0, 64));
    rc |= put(obj, "offset", json_integer(offset));
    rc |= put(obj, "type", json_string(live_event_type_name(ev->type)));
    rc |= put(obj, "id", ev->upstream_id[0]
              ? jstr(ev->upstream_id, strnlen(ev->upstream_id, LIVE_UPSTREAM_ID_MAX),
                     LIVE_UPSTREAM_ID_MAX) : json_null());
    rc |= put(obj, "time", json_string(when));
    if (ev->user_id || ev->username || ev->nickname || ev->avatar_url) {
        user = json_object();
        if (user) {
            const char *nick = with_profile ? ev->nickname : NULL;
            const char *avatar = with_profile ? ev->avatar_url : NULL;
            rc |= put(user, "id", jstr(ev->user_id, ev->user_id ? strlen(ev->user_id) : 0,
                                       LIVE_USER_ID_MAX));
            rc |= put(user, "username", jstr(ev->username,
                                             ev->username ? strlen(ev->username) : 0,
                                             LIVE_USERNAME_MAX));
            rc |= put(user, "nickname", jstr(nick, nick ? strlen(nick) : 0,
                                             LIVE_NICKNAME_MAX));
            rc |= put(user, "avatar_url", avatar_ok(avatar)
                      ? json_string(avatar) : json_null());
        }
        rc |= put(obj, "user", user);
    } else {
        rc |= put(obj, "user", json_null());
    }
    for (int i = 0; (unsigned)ev->type < LIVE_EV__COUNT && type_fields[ev->type][i]; i++)
        rc |= put(obj, type_fields[ev->type][i],
                  field_value(ev, type_fields[ev->type][i], text_max));
    if (rc == 0)
        out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return out;
}

/* JSON bytes jansson writes for the character at s (len bytes). */
static size_t escaped_len(const unsigned char *s, size_t len)
{
    if (len > 1 || *s >= 0x20)
        return *s == '"' || *s == '\\' ? 2 : len;
    return strchr("\b\f\n\r\t", *s) ? 2 : 6;
}

/* How many bytes of the comment's text fit in avail bytes of JSON (quotes excluded). */
static size_t text_fitting(const live_event_t *ev, size_t avail)
{
    json_t *v = json_object_get(ev->fields, "text");
    size_t len, used = 0, i = 0;
    char *clean;

    if (!json_is_string(v))
        return 0;
    clean = utf8_clean(json_string_value(v), json_string_length(v), LIVE_TEXT_MAX, &len);
    if (!clean)
        return 0;
    while (i < len) {
        size_t n = live_utf8_char((const unsigned char *)clean + i, len - i);
        size_t w = escaped_len((const unsigned char *)clean + i, n ? n : 1);
        if (!n || used + w > avail)
            break;
        used += w;
        i += n;
    }
    free(clean);
    return i;
}

static char *done(char *out, size_t *len)
{
    size_t n;

    if (!out)
        return NULL;
    n = strlen(out);
    if (n > LIVE_EVENT_JSON_MAX) {
        free(out);
        return NULL;
    }
    if (len)
        *len = n;
    return out;
}

char *live_event_render(const live_event_t *ev, const char *session_id, int64_t offset,
                        size_t *len)
{
    char *out = render_once(ev, session_id, offset, LIVE_TEXT_MAX, 1);
    size_t base, text_max;

    if (!out)
        return NULL;
    if (strlen(out) <= LIVE_EVENT_JSON_MAX)
        return done(out, len);
    free(out);
    if (ev->type == LIVE_EV_COMMENT) {
        /* A text full of escapes: what the event takes without its text says how much of
         * the text fits; cut there, on a character boundary. */
        if (!(out = render_once(ev, session_id, offset, 0, 1)))
            return NULL;
        base = strlen(out);
        free(out);
        text_max = base < LIVE_EVENT_JSON_MAX ? text_fitting(ev, LIVE_EVENT_JSON_MAX - base) : 0;
        for (;;) {
            if (!(out = render_once(ev, session_id, offset, text_max, 1)))
                return NULL;
            if (strlen(out) <= LIVE_EVENT_JSON_MAX)
                return done(out, len);
            free(out);
            if (text_max == 0)
                break;
            text_max = text_max > 16 ? text_max - 16 : 0;
        }
    }
    /* Only pathological user fields get here: render without nickname and avatar. */
    return done(render_once(ev, session_id, offset, 0, 0), len);
}
