/* The webcast event messages (tiktok/webcast.h, live_webcast_decode): Chat, Member, Like,
 * Gift, Social, RoomUserSeq and Control, each decoded on its own into a live event. A table
 * says, per method, which field number holds the common data, the user, the text, the gift
 * or an integer; one decoder fills a scratch record from it and a mapping makes the event.
 * Strings are copied bounded (text as valid UTF-8, cut on a character boundary); numbers are
 * clamped to what the event schema accepts. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "events/utf8.h"
#include "tiktok/webcast.h"

#define GIFT_NAME_MAX   255
#define JSON_INT_MAX    ((int64_t)1 << 53)          /* event_parse.c's bound for totals */
#define COUNT_MAX       INT64_C(2147483647)
#define TIME_MAX_MS     INT64_C(253402300799999)     /* 9999-12-31T23:59:59.999Z */
#define MAX_FIELD       16                           /* highest field number in the table */

enum { S_NONE, S_COMMON, S_USER, S_TEXT, S_GIFT, S_INT0, S_INT1, S_INT2 };

typedef enum { M_CHAT, M_MEMBER, M_LIKE, M_GIFT, M_SOCIAL, M_SEQ, M_CONTROL } method_t;

static const struct {
    const char *name;
    method_t method;
    unsigned char slot[MAX_FIELD + 1];               /* field number → S_* */
} methods[] = {
    { "WebcastChatMessage", M_CHAT, { [1] = S_COMMON, [2] = S_USER, [3] = S_TEXT } },
    /* 10 action (1 joined) */
    { "WebcastMemberMessage", M_MEMBER, { [1] = S_COMMON, [2] = S_USER, [10] = S_INT0 } },
    /* 2 count, 3 total */
    { "WebcastLikeMessage", M_LIKE, { [1] = S_COMMON, [2] = S_INT0, [3] = S_INT1,
                                      [5] = S_USER } },
    /* 2 gift_id, 5 repeat_count, 9 repeat_end, 15 gift {5 id, 12 diamond_count, 16 name} */
    { "WebcastGiftMessage", M_GIFT, { [1] = S_COMMON, [2] = S_INT0, [5] = S_INT1,
                                      [7] = S_USER, [9] = S_INT2, [15] = S_GIFT } },
    /* 4 action (1 follow, 3 share) */
    { "WebcastSocialMessage", M_SOCIAL, { [1] = S_COMMON, [2] = S_USER, [4] = S_INT0 } },
    /* 3 total (viewers) */
    { "WebcastRoomUserSeqMessage", M_SEQ, { [1] = S_COMMON, [3] = S_INT0 } },
    /* 2 action (3 ended, 4 suspended) */
    { "WebcastControlMessage", M_CONTROL, { [1] = S_COMMON, [2] = S_INT0 } },
};

typedef struct {
    int present, username_bad;
    char id[24];                                     /* i64 as decimal text */
    char username[LIVE_USERNAME_MAX + 2];            /* display_id, maybe with its '@' */
    char nickname[LIVE_NICKNAME_MAX + 1];
    char avatar[LIVE_AVATAR_URL_MAX + 1];
} wc_user_t;

typedef struct {
    int64_t msg_id, create_ms;
    wc_user_t user;
    char text[LIVE_TEXT_MAX + 1];
    int64_t gift_id, diamonds;
    char gift_name[GIFT_NAME_MAX + 1];
    int64_t ints[3];
    int has_int[3];
} wc_scratch_t;

/* A text field as valid UTF-8 in dst (size bytes with the NUL): invalid bytes become U+FFFD,
 * the text is cut on a character boundary. */
static void text_copy(char *dst, size_t size, const uint8_t *s, size_t n)
{
    live_utf8_copy(dst, size - 1, (const char *)s, n);
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* CommonMessageData: 2 msg_id, 4 create_time (ms). */
static int decode_common(const uint8_t *buf, size_t len, wc_scratch_t *w)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc;

    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 2 && f.number != 4)
            continue;
        if (f.wire != LIVE_PB_VARINT)
            return -1;
        if (f.number == 2)
            w->msg_id = (int64_t)f.varint;
        else
            w->create_ms = (int64_t)f.varint;
    }
    return rc;
}

/* ImageModel: 1 url_list (repeated), 2 uri. The first URL when it fits, else "". */
static int decode_image(const uint8_t *buf, size_t len, char *dst, size_t size)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc, first = 1;

    dst[0] = '\0';
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 1)
            continue;
        if (f.wire != LIVE_PB_LEN)
            return -1;
        if (first)
            live_pb_copy_string(dst, size, f.data, f.len, 0);
        first = 0;
    }
    return rc;
}

/* User: 1 id, 3 nickname, 9 avatar_thumb, 38 display_id. */
static int decode_user(const uint8_t *buf, size_t len, wc_user_t *u)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc;

    memset(u, 0, sizeof(*u));
    u->present = 1;
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 1 && f.number != 3 && f.number != 9 && f.number != 38)
            continue;
        if (f.wire != (f.number == 1 ? LIVE_PB_VARINT : LIVE_PB_LEN))
            return -1;
        switch (f.number) {
        case 1:
            if (f.varint)
                snprintf(u->id, sizeof(u->id), "%" PRId64, (int64_t)f.varint);
            else
                u->id[0] = '\0';
            break;
        case 3:
            text_copy(u->nickname, sizeof(u->nickname), f.data, f.len);
            break;
        case 9:
            if (decode_image(f.data, f.len, u->avatar, sizeof(u->avatar)) < 0)
                return -1;
            break;
        case 38:
            u->username_bad = live_pb_copy_string(u->username, sizeof(u->username), f.data, f.len, 0) < 0;
            break;
        }
    }
    return rc;
}

/* GiftStruct: 5 id, 12 diamond_count, 16 name. */
static int decode_gift(const uint8_t *buf, size_t len, wc_scratch_t *w)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc;

    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 5 && f.number != 12 && f.number != 16)
            continue;
        if (f.wire != (f.number == 16 ? LIVE_PB_LEN : LIVE_PB_VARINT))
            return -1;
        if (f.number == 5)
            w->gift_id = (int64_t)f.varint;
        else if (f.number == 12)
            w->diamonds = (int64_t)f.varint;
        else
            text_copy(w->gift_name, sizeof(w->gift_name), f.data, f.len);
    }
    return rc;
}

/* The message's fields into w by the method's table; -1 when it does not decode. */
static int decode_fields(const unsigned char *slot, const uint8_t *buf, size_t len,
                         wc_scratch_t *w)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc, s;

    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        s = f.number <= MAX_FIELD ? slot[f.number] : S_NONE;
        if (s == S_NONE)
            continue;
        if (f.wire != (s >= S_INT0 ? LIVE_PB_VARINT : LIVE_PB_LEN))
            return -1;
        switch (s) {
        case S_COMMON:
            if (decode_common(f.data, f.len, w) < 0)
                return -1;
            break;
        case S_USER:
            if (decode_user(f.data, f.len, &w->user) < 0)
                return -1;
            break;
        case S_TEXT:
            text_copy(w->text, sizeof(w->text), f.data, f.len);
            break;
        case S_GIFT:
            if (decode_gift(f.data, f.len, w) < 0)
                return -1;
            break;
        default:
            w->ints[s - S_INT0] = (int64_t)f.varint;
            w->has_int[s - S_INT0] = 1;
            break;
        }
    }
    return rc;
}

/* The event with its id, time and user (none when the handle is not a usable username). */
static live_event_t *make_event(live_event_type_t type, const live_webcast_msg_t *m,
                                const wc_scratch_t *w, int with_user)
{
    live_event_t *ev = live_event_new(type);
    const wc_user_t *u = &w->user;
    int64_t id = m->msg_id ? m->msg_id : w->msg_id;

    if (!ev)
        return NULL;
    if (id)
        snprintf(ev->upstream_id, sizeof(ev->upstream_id), "%" PRId64, id);
    ev->created_us = w->create_ms > 0 && w->create_ms <= TIME_MAX_MS ? w->create_ms * 1000
                                                                      : live_now_us();
    if (with_user && u->present && !u->username_bad)
        (void)live_event_set_user(ev, u->id, u->username, u->nickname, u->avatar);
    return ev;
}

static int set_int(live_event_t *ev, const char *key, int64_t v)
{
    return json_object_set_new(ev->fields, key, json_integer((json_int_t)v));
}

/* The event of a decoded message: EVENT with *ev, or IGNORED / END. */
static live_wc_kind_t map_event(method_t method, const live_webcast_msg_t *m,
                                const wc_scratch_t *w, live_event_t **ev, int *control)
{
    live_event_type_t type;
    int64_t count, diamonds;
    int rc = 0;

    switch (method) {
    case M_CHAT: type = LIVE_EV_COMMENT; break;
    case M_MEMBER:
        if (w->ints[0] != 1)
            return LIVE_WC_IGNORED;
        type = LIVE_EV_JOIN;
        break;
    case M_LIKE: type = LIVE_EV_LIKE; break;
    case M_GIFT:
        if (w->ints[2] != 1)                         /* a streak goes on: only its end counts */
            return LIVE_WC_IGNORED;
        type = LIVE_EV_GIFT;
        break;
    case M_SOCIAL:
        if (w->ints[0] != 1 && w->ints[0] != 3)
            return LIVE_WC_IGNORED;
        type = w->ints[0] == 1 ? LIVE_EV_FOLLOW : LIVE_EV_SHARE;
        break;
    case M_SEQ: type = LIVE_EV_VIEWERS; break;
    default:
        if (control)
            *control = (int)clamp(w->ints[0], INT32_MIN, INT32_MAX);
        return w->ints[0] == 3 || w->ints[0] == 4 ? LIVE_WC_END : LIVE_WC_IGNORED;
    }
    *ev = make_event(type, m, w, type != LIVE_EV_VIEWERS);
    if (!*ev)
        return LIVE_WC_IGNORED;                      /* out of memory: nothing to emit */
    switch (method) {
    case M_CHAT:
        rc = json_object_set_new((*ev)->fields, "text", json_string(w->text));
        break;
    case M_LIKE:
        rc = set_int(*ev, "count", clamp(w->ints[0], 0, COUNT_MAX));
        rc |= json_object_set_new((*ev)->fields, "total", w->has_int[1] ?
                                  json_integer(clamp(w->ints[1], 0, JSON_INT_MAX)) :
                                  json_null());
        break;
    case M_GIFT:
        /* A gift sent once may say repeat_count 0; diamonds is the streak's total. */
        count = clamp(w->ints[1], 1, COUNT_MAX);
        diamonds = clamp(w->diamonds, 0, JSON_INT_MAX);
        diamonds = diamonds > JSON_INT_MAX / count ? JSON_INT_MAX : diamonds * count;
        rc = set_int(*ev, "gift_id", clamp(w->ints[0] ? w->ints[0] : w->gift_id, 0,
                                          JSON_INT_MAX));
        rc |= json_object_set_new((*ev)->fields, "gift_name", json_string(w->gift_name));
        rc |= set_int(*ev, "count", count);
        rc |= set_int(*ev, "diamonds", diamonds);
        break;
    case M_SEQ:
        rc = set_int(*ev, "viewers", clamp(w->ints[0], 0, COUNT_MAX));
        break;
    default:
        break;
    }
    if (rc != 0) {
        live_event_free(*ev);
        *ev = NULL;
        return LIVE_WC_IGNORED;
    }
    return LIVE_WC_EVENT;
}

live_wc_kind_t live_webcast_decode(const live_webcast_msg_t *m, live_event_t **ev,
                                   int *control_action)
{
    wc_scratch_t w;
    size_t i;

    *ev = NULL;
    if (control_action)
        *control_action = 0;
    if (!m || !m->method[0] || memchr(m->method, 0, sizeof(m->method)) == NULL)
        return LIVE_WC_MALFORMED;
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m->method, methods[i].name) == 0)
            break;
    if (i == sizeof(methods) / sizeof(methods[0]))
        return LIVE_WC_UNKNOWN;
    memset(&w, 0, sizeof(w));
    if (decode_fields(methods[i].slot, m->payload, m->payload_len, &w) < 0)
        return LIVE_WC_MALFORMED;
    return map_event(methods[i].method, m, &w, ev, control_action);
}
