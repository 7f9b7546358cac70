/* Parsing of the answers of TikTok and the sign server; see room_parse.h. All of it comes
 * from upstream: every scan stays within len, what is copied out is bounded (a decimal room
 * id, the cookie jar, short texts) and the texts carry only printable ASCII. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "html_script.h"
#include "tiktok/room_parse.h"

#define SIGI_ID "SIGI_STATE"

static void say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why == NULL || why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    for (char *p = why; *p; p++)          /* jansson quotes the input near an error */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}

/* A statusCode or status: an integer, or a string of at most 12 digits; -1 otherwise. */
static long code_of(json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        return n >= 0 && n <= 999999999999LL ? (long)n : -1;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (s == NULL || n == 0 || n > 12)
        return -1;
    long c = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        c = c * 10 + (s[i] - '0');
    }
    return c;
}

/* Fills room from a user object {roomId, status}. FOUND, NO_ROOM (no id, "" or "0") or
 * MALFORMED (an id that is no decimal number, or longer than room_id holds). */
static live_room_parse_t room_of(json_t *user, live_room_t *room, const char *where,
                                 char *why, size_t why_len)
{
    json_t *id = json_object_get(user, "roomId");
    long st = code_of(json_object_get(user, "status"));
    room->status = st >= 0 && st <= 1000 ? (int)st : 0;
    room->room_id[0] = '\0';
    if (json_is_integer(id)) {
        if (json_integer_value(id) < 0) {
            say(why, why_len, "%s has a negative roomId", where);
            return LIVE_ROOM_MALFORMED;
        }
        snprintf(room->room_id, sizeof room->room_id, "%lld",
                 (long long)json_integer_value(id));
    } else if (json_is_string(id)) {
        const char *s = json_string_value(id);
        size_t n = json_string_length(id);
        if (n >= sizeof room->room_id) {
            say(why, why_len, "%s has a roomId of %zu characters", where, n);
            return LIVE_ROOM_MALFORMED;
        }
        for (size_t i = 0; i < n; i++)
            if (s[i] < '0' || s[i] > '9') {
                say(why, why_len, "%s has a roomId that is not a decimal number", where);
                return LIVE_ROOM_MALFORMED;
            }
        memcpy(room->room_id, s, n + 1);
    } else if (id != NULL && !json_is_null(id)) {
        say(why, why_len, "%s has a roomId that is neither a string nor a number", where);
        return LIVE_ROOM_MALFORMED;
    }
    size_t z = strspn(room->room_id, "0");
    if (room->room_id[z] == '\0') {       /* "", "0", "000" */
        room->room_id[0] = '\0';
        say(why, why_len, "%s has no roomId (status %d)", where, room->status);
        return LIVE_ROOM_NO_ROOM;
    }
    return LIVE_ROOM_FOUND;
}

live_room_parse_t live_room_parse_page(const char *html, size_t len, live_room_t *room,
                                       char *why, size_t why_len)
{
    const char *body = NULL;
    size_t body_len = 0;
    memset(room, 0, sizeof *room);
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    int r = html == NULL ? 0 : live_html_script(html, len, SIGI_ID, &body, &body_len);
    if (r == 0) {
        say(why, why_len, "the live page has no SIGI_STATE script");
        return LIVE_ROOM_NO_SCRIPT;
    }
    if (r < 0) {
        say(why, why_len, "the live page's SIGI_STATE script does not end");
        return LIVE_ROOM_MALFORMED;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, body_len, 0, &jerr);
    if (root == NULL) {
        say(why, why_len, "the live page's SIGI_STATE is not JSON (line %d: %.80s)",
            jerr.line, jerr.text);
        return LIVE_ROOM_MALFORMED;
    }
    json_t *user = json_object_get(json_object_get(json_object_get(root, "LiveRoom"),
                                                   "liveRoomUserInfo"), "user");
    live_room_parse_t st;
    if (!json_is_object(user)) {
        say(why, why_len, "the live page's SIGI_STATE has no LiveRoom.liveRoomUserInfo.user");
        st = LIVE_ROOM_MALFORMED;
    } else {
        st = room_of(user, room, "the live page's SIGI_STATE user", why, why_len);
    }
    json_decref(root);
    return st;
}

live_room_parse_t live_room_parse_api(const char *body, size_t len, live_room_t *room,
                                      char *why, size_t why_len)
{
    memset(room, 0, sizeof *room);
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    size_t i = 0;
    while (body != NULL && i < len && live_html_space(body[i]))
        i++;
    if (body == NULL || i == len) {
        say(why, why_len, "the room API answered with an empty body");
        return LIVE_ROOM_EMPTY;
    }
    if (body[i] == '<') {
        say(why, why_len, "the room API answered with an HTML page");
        return LIVE_ROOM_HTML;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (root == NULL) {
        say(why, why_len, "the room API's answer is not JSON (line %d: %.80s)", jerr.line,
            jerr.text);
        return LIVE_ROOM_MALFORMED;
    }
    live_room_parse_t st = LIVE_ROOM_MALFORMED;
    json_t *sc = json_object_get(root, "statusCode");
    long code = code_of(sc);
    json_t *user = json_object_get(json_object_get(root, "data"), "user");
    if (!json_is_object(root)) {
        say(why, why_len, "the room API's answer is not a JSON object");
    } else if (code == LIVE_TT_NOT_FOUND_CODE) {
        say(why, why_len, "the room API says the user does not exist (statusCode %ld)", code);
        st = LIVE_ROOM_USER_NOT_FOUND;
    } else if (code == LIVE_TT_AGE_CODE) {
        say(why, why_len, "the room API says the live is age restricted (statusCode %ld)",
            code);
        st = LIVE_ROOM_AGE_RESTRICTED;
    } else if (sc == NULL || code < 0) {
        say(why, why_len, "the room API's answer has no usable statusCode");
    } else if (code != 0) {
        const char *m = json_string_value(json_object_get(root, "message"));
        say(why, why_len, "the room API answered statusCode %ld (%.80s)", code,
            m != NULL ? m : "no message");
    } else if (!json_is_object(user)) {
        say(why, why_len, "the room API's answer has no data.user");
    } else {
        st = room_of(user, room, "the room API's data.user", why, why_len);
    }
    json_decref(root);
    return st;
}

/* Printable ASCII of s[0, n) into out (at most LIVE_TT_TEXT_MAX bytes), others as '?'. */
static void clean(const char *s, size_t n, char *out, size_t out_len)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < out_len && j < LIVE_TT_TEXT_MAX; i++)
        out[j++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    if (out_len > 0)
        out[j] = '\0';
}

static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && live_html_space(*s)) {
        s++;
        (*n)--;
    }
    while (*n > 0 && live_html_space(s[*n - 1]))
        (*n)--;
    return s;
}

/* Where the pair "name=…" starts in jar, or -1. */
static long jar_find(const char *jar, size_t len, const char *name, size_t nlen)
{
    size_t i = 0;
    while (i < len) {
        if (i + nlen < len && memcmp(jar + i, name, nlen) == 0 && jar[i + nlen] == '=')
            return (long)i;
        const char *semi = memchr(jar + i, ';', len - i);
        if (semi == NULL)
            break;
        i = (size_t)(semi - jar) + 2;          /* past "; " */
    }
    return -1;
}

/* Removes the pair starting at at, and one separator. */
static void jar_remove(char *jar, size_t *len, size_t at)
{
    const char *semi = memchr(jar + at, ';', *len - at);
    size_t end = semi ? (size_t)(semi - jar) + 2 : *len;
    if (semi == NULL && at >= 2)
        at -= 2;                               /* the last pair: the "; " before it */
    memmove(jar + at, jar + end, *len - end);
    *len -= end - at;
    jar[*len] = '\0';
}

static int cookie_attribute(const char *s, size_t n)
{
    static const char *attrs[] = { "path", "domain", "expires", "max-age", "secure",
                                   "httponly", "samesite", "priority", "partitioned",
                                   "version", "comment" };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (strlen(attrs[i]) == n && strncasecmp(s, attrs[i], n) == 0)
            return 1;
    return 0;
}

int live_tt_cookie_add(char *jar, size_t *len, size_t cap, const char *v, size_t vlen)
{
    int cut = 0;
    while (vlen > 0) {
        const char *semi = memchr(v, ';', vlen);
        size_t n = semi ? (size_t)(semi - v) : vlen;
        const char *pair = v;
        v += semi ? n + 1 : n;
        vlen -= semi ? n + 1 : n;
        pair = trim(pair, &n);
        const char *eq = memchr(pair, '=', n);
        if (eq == NULL || eq == pair)
            continue;
        size_t nlen = (size_t)(eq - pair);
        if (cookie_attribute(pair, nlen))
            continue;
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)pair[i];
            if (ch < 0x20 || ch >= 0x7f || (i < nlen && (ch == ' ' || ch == ',' || ch == '\t')))
                ok = 0;
        }
        if (!ok)
            continue;
        long at = jar_find(jar, *len, pair, nlen);
        if (at >= 0)
            jar_remove(jar, len, (size_t)at);
        if (*len + (*len ? 2 : 0) + n >= cap) {
            cut = 1;
            continue;
        }
        if (*len) {
            memcpy(jar + *len, "; ", 2);
            *len += 2;
        }
        memcpy(jar + *len, pair, n);
        *len += n;
        jar[*len] = '\0';
    }
    return cut;
}

void live_sign_error_parse(const char *body, size_t len, long now, char *msg, size_t msg_len,
                           char *label, size_t label_len, int *retry_s)
{
    msg[0] = label[0] = '\0';
    *retry_s = -1;
    json_t *j = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    json_t *m = json_object_get(j, "message"), *l = json_object_get(j, "limit_label");
    if (json_is_string(m))
        clean(json_string_value(m), json_string_length(m), msg, msg_len);
    if (json_is_string(l))
        clean(json_string_value(l), json_string_length(l), label, label_len);
    json_t *ra = json_object_get(j, "retry_after"), *rs = json_object_get(j, "reset");
    double s = -1;
    if (json_is_number(ra)) {
        s = json_number_value(ra);
    } else if (json_is_number(rs)) {
        double r = json_number_value(rs);
        s = r > 1e12 ? r / 1000.0 - (double)now : r > 1e9 ? r - (double)now : r;
    }
    if (s >= 0 || json_is_number(rs))          /* a reset in the past: at once */
        *retry_s = s < 1 ? 1 : s > LIVE_TT_RETRY_MAX ? LIVE_TT_RETRY_MAX : (int)(s + 0.999);
    json_decref(j);
}
