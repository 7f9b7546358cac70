/* Pure parsing of the answers upstream.c gets (no I/O, jansson only): the live page's
 * <script id="SIGI_STATE"> (LiveRoom.liveRoomUserInfo.user {roomId, status}), the room API's
 * JSON ({"statusCode", "data": {"user": {roomId, status}}}), the sign server's
 * X-Set-TT-Cookie headers and its JSON errors. Unit tested by test/unit/live_test_room.c. */
#ifndef LIVE_ROOM_PARSE_H
#define LIVE_ROOM_PARSE_H

#include <stddef.h>

#include "tiktok/upstream.h"

#define LIVE_TT_NOT_FOUND_CODE  19881007L   /* room API statusCode: no such user */
#define LIVE_TT_AGE_CODE        4003110L    /* room API statusCode: age restricted (assumed) */

typedef enum {
    LIVE_ROOM_FOUND,          /* room->room_id (digits) and room->status set */
    LIVE_ROOM_NO_ROOM,        /* the user is named but has no room id (offline, or the page
                                 lacks it); room->room_id "", room->status as given (0) */
    LIVE_ROOM_NO_SCRIPT,      /* page: no SIGI_STATE script (captcha, WAF or login wall) */
    LIVE_ROOM_EMPTY,          /* API: an empty body (TikTok's answer to a detected client) */
    LIVE_ROOM_HTML,           /* API: an HTML page instead of JSON (captcha, WAF) */
    LIVE_ROOM_USER_NOT_FOUND, /* API: statusCode 19881007 */
    LIVE_ROOM_AGE_RESTRICTED, /* API: statusCode 4003110 */
    LIVE_ROOM_MALFORMED       /* JSON that does not parse, or lacks the fields */
} live_room_parse_t;

/* The live page (html, len bytes, not necessarily NUL-terminated). why (may be NULL) gets a
 * short phrase for anything but FOUND, e.g. "the live page has no SIGI_STATE script". */
live_room_parse_t live_room_parse_page(const char *html, size_t len, live_room_t *room,
                                       char *why, size_t why_len);

/* The room API's answer (body, len bytes). why as above. */
live_room_parse_t live_room_parse_api(const char *body, size_t len, live_room_t *room,
                                      char *why, size_t why_len);

#define LIVE_TT_COOKIE_MAX  4096   /* bytes of the cookie string (with its NUL) */
#define LIVE_TT_TEXT_MAX    120    /* bytes of upstream text quoted in a detail */
#define LIVE_TT_RETRY_MAX   86400  /* s: the longest wait a 429 may ask for */

/* Adds the pairs of one X-Set-TT-Cookie value ("a=1; b=2"; Set-Cookie attributes such as
 * Path or Expires are dropped) to jar, a "name=value; name=value" string of *len bytes in a
 * buffer of cap bytes (NUL-terminated). A later value of a name replaces the earlier one;
 * pairs a Cookie header cannot carry (control bytes, a name with spaces) are dropped. 0, or 1
 * when a pair was dropped because it did not fit. */
int live_tt_cookie_add(char *jar, size_t *len, size_t cap, const char *v, size_t vlen);

/* The sign server's JSON error {"message", "limit_label", "retry_after", "reset"}: message
 * and label (printable ASCII, at most LIVE_TT_TEXT_MAX bytes; "" when absent), *retry_s the
 * seconds to wait, 1 .. LIVE_TT_RETRY_MAX (-1 when it says none): retry_after in seconds, or
 * reset as seconds, a Unix time or a Unix time in ms (now: the current Unix time). */
void live_sign_error_parse(const char *body, size_t len, long now, char *msg, size_t msg_len,
                           char *label, size_t label_len, int *retry_s);

#endif
