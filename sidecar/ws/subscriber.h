/* WebSocket subscribers of /ws/comments/{id} and the loop's side of the hub: routing of
 * publishes, remote notifications and history results to channels and subscribers, history
 * requests (bounded), slow-client and drain policy. Main thread only.
 *
 * A subscriber's cursor `next` is the offset it is sent next; frames come from a history
 * result (backfill, older than the ring), from its channel's ring, or it waits; frames outside
 * its type mask are skipped (the final status event never is). Close codes: 1000 after the
 * session's final event, 1001 drain, 1011 history unreadable, 1013 sidecar out of room, 4008
 * too slow.
 *
 * Each writable callback sends every frame the subscriber is due, up to 64 frames and what
 * libwebsockets sends in one send() (the protocol's tx_packet_size, at most 32 KiB), in ONE
 * lws_write(LWS_WRITE_RAW) of complete frames built by ws/wsframe.h: one syscall and one TCP
 * segment train per callback, not per event (through httpd's WebSocket tunnel every segment
 * costs a poll, a read and a write). Raw framing is right because the server negotiates no
 * extension (ws/server.c gives libwebsockets none, so no permessage-deflate). libwebsockets
 * 4.1 hands a raw write to lws_issue_raw(): what the socket does not take is copied to the
 * connection's buflist_out and the full length is reported; that remainder goes out first at
 * the next POLLOUT, before its control frames (ping, pong, close) and before our next
 * writable callback. So batches never interleave with other frames, the cursor (advanced as
 * frames join the batch) is exact once the write returned, and one batch buffer serves every
 * subscriber. */
#ifndef LIVE_SUBSCRIBER_H
#define LIVE_SUBSCRIBER_H

#include <stdint.h>

#include "core/config.h"
#include "ws/channel.h"
#include "ws/request.h"

struct lws;

typedef enum {
    LIVE_SUB_PENDING,             /* its channel is being probed */
    LIVE_SUB_CATCHUP,             /* sending what it missed */
    LIVE_SUB_LIVE,                /* caught up: the client_queue limit applies */
    LIVE_SUB_CLOSING
} live_sub_phase_t;

/* The per-connection data of the WebSocket protocol (zeroed by libwebsockets). */
typedef struct live_sub {
    live_link_t link;             /* in its channel's subscriber list */
    live_link_t wait;             /* in the queue for a history slot */
    struct lws *wsi;
    live_channel_t *ch;
    int64_t since;
    int64_t next;
    unsigned types;
    live_sub_phase_t phase;
    int send_waiting;             /* the synthetic "waiting" status frame is due */
    int waiting;                  /* in the history slot queue */
    uint64_t req_id;              /* outstanding history request */
    live_frame_t *backfill;       /* history frames not sent yet */
    int close_code;
    const char *close_reason;
} live_sub_t;

int  live_subs_init(const live_config_t *cfg);
void live_subs_reload(const live_config_t *cfg);
void live_subs_shutdown(void);

/* Upgrade filter: 1 when a channel for id exists or can be made. */
int  live_subs_room(const char *id);
int  live_subs_channels(void);
int  live_subs_clients(void);

/* LWS_CALLBACK_ESTABLISHED: s is the zeroed per-connection data. */
void live_sub_open(live_sub_t *s, struct lws *wsi, const live_ws_request_t *req,
                   int send_buffer);
/* LWS_CALLBACK_SERVER_WRITEABLE: 0, or -1 to close (the close reason is set). */
int  live_sub_writable(live_sub_t *s);
/* LWS_CALLBACK_CLOSED. */
void live_sub_closed(live_sub_t *s);

/* Takes what the worker threads queued (ws/hub_loop.h) and applies it. */
void live_subs_dispatch(void);
/* Housekeeping (about once a second; more often while draining). */
void live_subs_tick(void);
/* Refuse nothing here (the server does); close every subscriber 1001 once it is sent up to
 * its channel's last offset. */
void live_subs_drain(void);

#endif
