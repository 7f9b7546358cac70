/* The webcast WebSocket client of one tiktok session (libwebsockets client, TLS for wss://,
 * its own lws context on the source's thread): dials the push server with the route params,
 * cookies and user agent, sends the enter-room frame, heartbeats every heartbeat interval,
 * acks when need_ack, and hands every received frame's messages to a callback. */
#ifndef LIVE_PUSH_H
#define LIVE_PUSH_H

#include <stdint.h>

#include "core/config.h"
#include "tiktok/upstream.h"
#include "tiktok/webcast.h"

typedef struct live_push live_push_t;

typedef struct {
    /* A message from a received frame (after gzip): called on the source thread. Return
     * non-zero to end the connection (e.g. a Control end). */
    int (*message)(void *ctx, const live_webcast_msg_t *m);
    void *ctx;
} live_push_handler_t;

typedef struct {
    const char *url;             /* ws[s]://host[:port]/path?query built by live_push_url */
    const char *cookie;          /* may be NULL */
    const char *room_id;
    int64_t heartbeat_ms;
    const uint8_t *internal_ext; /* echoed in acks (from the fetch result) */
    size_t internal_ext_len;
    int need_ack;
} live_push_params_t;

/* The push URL: push_server (or cfg tiktok_push_url when set) + the documented fixed params +
 * route params + room_id. malloc'd, NULL on failure. */
char *live_push_url(const live_config_t *cfg, const live_fetch_result_t *fr,
                    const char *room_id);

/* Connects and runs until the connection ends, *stop becomes non-zero (checked at least every
 * 100 ms) or the handler asks to end. Returns LIVE_TT_OK when it ended normally (stop,
 * handler), LIVE_TT_BLOCKED on a handshake rejection (HTTP 200 with handshake-status /
 * handshake-msg; detail says which), LIVE_TT_NETWORK on a dropped or failed connection. */
live_tt_status_t live_push_run(const live_config_t *cfg, const live_push_params_t *p,
                               const live_push_handler_t *h, volatile int *stop,
                               char *detail, size_t detail_len);

#endif
