/* TikTok's HTTP side for the tiktok source (libcurl, every call with timeouts and bounded
 * bodies): the room lookup and the sign server's first fetch. Every failure maps to one of
 * the reasons the API shows (live_tt_reason). A non-zero *stop (stop may be NULL) aborts a
 * call in progress within about a second (libcurl calls its progress callback at least that
 * often), so a stopping session never waits for a timeout. */
#ifndef LIVE_UPSTREAM_H
#define LIVE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

typedef enum {
    LIVE_TT_OK,
    LIVE_TT_USER_NOT_FOUND,      /* "user_not_found" */
    LIVE_TT_NOT_LIVE,            /* "not_live" */
    LIVE_TT_AGE_RESTRICTED,      /* "age_restricted" */
    LIVE_TT_BLOCKED,             /* "blocked": captcha/WAF, 200 with an empty body, 403 page,
                                    a handshake rejection */
    LIVE_TT_SIGN_RATE_LIMITED,   /* "sign_server_rate_limited" (retry_after_s set) */
    LIVE_TT_SIGN_UNAUTHORIZED,   /* "sign_server_unauthorized" (401, 402, 403 from the sign
                                    server) */
    LIVE_TT_UPSTREAM_CHANGED,    /* "upstream_changed": answers we cannot parse */
    LIVE_TT_NETWORK              /* "network": timeouts, refused connections, 5xx */
} live_tt_status_t;

const char *live_tt_reason(live_tt_status_t st);

typedef struct {
    char room_id[32];            /* decimal */
    int status;                  /* 2 live, 3 paused, 4 offline (0 unknown) */
} live_room_t;

/* GET <tiktok_www_url>/@<username>/live → SIGI_STATE LiveRoom.liveRoomUserInfo.user
 * {roomId, status}; fallback GET <tiktok_www_url>/api-live/user/room/?uniqueId=<username>&
 * sourceType=54 → data.user {roomId, status}. OK with *room set even when not live (the
 * caller decides); detail gets a sentence on failure. */
live_tt_status_t live_room_lookup(const live_config_t *cfg, const char *username,
                                  live_room_t *room, volatile int *stop, char *detail,
                                  size_t detail_len);

typedef struct {
    uint8_t *fetch;              /* the raw ProtoMessageFetchResult (malloc'd) */
    size_t fetch_len;
    char *cookie;                /* "name=value; …" from X-Set-TT-Cookie (malloc'd) or NULL */
    int retry_after_s;           /* SIGN_RATE_LIMITED: when to try again */
} live_sign_result_t;

/* GET <sign_url>/webcast/fetch?client=ttlive-c&room_id=…&user_agent=…&client_enter=true with
 * X-Api-Key (sign_api_key). 200 with a body → OK; 200 empty → BLOCKED; 429 → RATE_LIMITED
 * (Retry-After header, else the JSON's retry_after / reset, else 60 s); 401/402/403 →
 * UNAUTHORIZED; anything else → NETWORK. */
live_tt_status_t live_sign_fetch(const live_config_t *cfg, const char *room_id,
                                 live_sign_result_t *out, volatile int *stop, char *detail,
                                 size_t detail_len);
void live_sign_result_free(live_sign_result_t *r);

#endif
