/* The WebSocket upgrade request: /ws/comments/{id}?since=N&types=a,b (pure parsing, no
 * libwebsockets, unit-tested). Unknown query arguments (e.g. api_key, which httpd consumed)
 * are ignored. */
#ifndef LIVE_REQUEST_H
#define LIVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_WS_PATH_PREFIX "/ws/comments/"
#define LIVE_WS_ARG_MAX     512       /* one name=value, bytes */
#define LIVE_WS_ARGS_MAX    16        /* query arguments */

/* What the upgrade asked for (validated). */
typedef struct {
    char id[65];
    int64_t since;                    /* -1: none (live events from now on) */
    unsigned types;                   /* mask of 1u << live_event_type_t */
} live_ws_request_t;

/* 1 when id matches ^[A-Za-z0-9_-]{1,64}$. */
int live_ws_id_valid(const char *id, size_t len);
/* path (without the query): 0 with id copied; LIVE_WS_PATH_UNKNOWN when it is not under
 * /ws/comments/; LIVE_WS_PATH_BAD_ID when the id is invalid. */
enum { LIVE_WS_PATH_UNKNOWN = 1, LIVE_WS_PATH_BAD_ID = 2 };
int live_ws_parse_path(const char *path, char id[65]);
/* One "name=value" of the query into req (since, types; others ignored). seen: bits of the
 * arguments already given (a repeated one is refused). -1 with *why on a bad value. */
int live_ws_parse_arg(const char *arg, live_ws_request_t *req, int *seen, const char **why);
/* 1 for 127.0.0.0/8, ::1, [::1] and localhost. */
int live_ws_loopback(const char *host);
/* "[::1]" → "::1"; other hosts copied. */
void live_ws_strip_brackets(const char *host, char *out, size_t len);

#endif
