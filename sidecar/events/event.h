/* The event model: one JSON schema for every event type (docs/live-sessions.md).
 *
 *   {"session_id":"demo-1","offset":42,"type":"comment","id":"<upstream id>",
 *    "time":"2026-11-24T10:00:00.123Z",
 *    "user":{"id":"…","username":"alice","nickname":"Alice","avatar_url":"https://…"},
 *    "text":"hello"}
 *
 * Type fields: comment text; like count, total; gift gift_id, gift_name, count, diamonds;
 * viewers viewers; status status, reason (null when none). join, follow, share: none.
 * user is null for viewers and status events. */
#ifndef LIVE_EVENT_H
#define LIVE_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef enum {
    LIVE_EV_COMMENT, LIVE_EV_LIKE, LIVE_EV_GIFT, LIVE_EV_JOIN, LIVE_EV_FOLLOW,
    LIVE_EV_SHARE, LIVE_EV_VIEWERS, LIVE_EV_STATUS, LIVE_EV__COUNT
} live_event_type_t;

#define LIVE_EV_ALL_TYPES ((1u << LIVE_EV__COUNT) - 1)

/* Bounds every field of an event (bytes, including none of the terminator). */
#define LIVE_UPSTREAM_ID_MAX 64
#define LIVE_USER_ID_MAX     64
#define LIVE_USERNAME_MAX    24
#define LIVE_NICKNAME_MAX    255
#define LIVE_AVATAR_URL_MAX  2048
#define LIVE_TEXT_MAX        2048
#define LIVE_EVENT_JSON_MAX  8192

typedef struct live_event {
    struct live_event *next;
    live_event_type_t type;
    char upstream_id[LIVE_UPSTREAM_ID_MAX + 1];
    int64_t created_us;          /* when it happened (epoch µs): "time" */
    /* The user; all NULL when the event has none. Owned, bounded, valid UTF-8. */
    char *user_id, *username, *nickname, *avatar_url;
    json_t *fields;              /* type fields, merged into the top level; owned */
} live_event_t;

const char *live_event_type_name(live_event_type_t type);
/* 0 and *out on a known name, -1 otherwise. */
int live_event_type_parse(const char *name, size_t len, live_event_type_t *out);
/* "comment,gift" → bit mask (1u << type); 0 when a name is unknown or the list is empty. */
unsigned live_event_types_parse(const char *csv);

live_event_t *live_event_new(live_event_type_t type);
/* Copies (and truncates to the bounds) the user. username is canonicalised (lower case, no
 * '@'); an avatar_url that is not http(s) is dropped. Returns -1 when username is unusable. */
int live_event_set_user(live_event_t *ev, const char *id, const char *username,
                        const char *nickname, const char *avatar_url);
void live_event_free(live_event_t *ev);
void live_event_free_chain(live_event_t *ev);

/* The streamed JSON of ev as event `offset` of session_id: malloc'd, NUL terminated, *len
 * without the NUL; at most LIVE_EVENT_JSON_MAX bytes (long text is cut). NULL on OOM. */
char *live_event_render(const live_event_t *ev, const char *session_id, int64_t offset,
                        size_t *len);

/* One line of a recording (the streamed schema without session_id and offset) → event.
 * NULL with a reason in err when the line is not a valid event. */
live_event_t *live_event_parse(const char *line, size_t len, char *err, size_t errlen);

/* A status event ("connecting", "live", "ended", "failed") with an optional reason. */
live_event_t *live_event_status(const char *status, const char *reason);

#endif
