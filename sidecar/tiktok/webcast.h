/* TikTok LIVE webcast messages (facts: ../shared/reference/tiktok-live-protocol.md):
 * decoding of push frames, fetch results and the event messages into live events, and
 * encoding of the frames a client sends (enter room, heartbeat, ack). Pure code, fuzzed by
 * test/fuzz/fuzz_webcast.c. */
#ifndef LIVE_WEBCAST_H
#define LIVE_WEBCAST_H

#include <stddef.h>
#include <stdint.h>

#include "events/event.h"
#include "tiktok/pb.h"

#define LIVE_WEBCAST_MAX_FRAME     (4u << 20)   /* a push frame or fetch result, bytes */
#define LIVE_WEBCAST_MAX_INFLATED  (8u << 20)   /* a gzip payload once inflated */
#define LIVE_WEBCAST_MAX_MESSAGES  4096         /* messages in one fetch result */
#define LIVE_WEBCAST_MAX_ROUTE     32           /* route params kept from a fetch result */

/* WebcastPushFrame: 1 seq_id, 2 log_id, 3 service, 4 method, 5 headers {1 key, 2 value},
 * 6 payload_encoding, 7 payload_type ("msg", "ack", "hb", "im_enter_room",
 * "im_enter_room_resp"), 8 payload. */
typedef struct {
    uint64_t seq_id, log_id;
    int64_t service, method;
    char payload_type[32];
    int gzip;                    /* header compress_type=gzip, or the gzip magic 1f 8b 08 */
    const uint8_t *payload;      /* inside the input */
    size_t payload_len;
} live_push_frame_t;

/* 0, or -1 when buf is not a push frame. */
int live_push_frame_decode(const uint8_t *buf, size_t len, live_push_frame_t *out);

/* Inflates a gzip member into a malloc'd buffer of at most max bytes. 0, or -1 (corrupt,
 * larger than max, out of memory). */
int live_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len);

typedef struct {
    char method[64];             /* "WebcastChatMessage" … */
    const uint8_t *payload;      /* inside the decoded buffer */
    size_t payload_len;
    int64_t msg_id;
} live_webcast_msg_t;

typedef struct {
    char key[64];
    char value[512];
} live_route_param_t;

/* ProtoMessageFetchResult: 1 messages, 2 cursor, 3 fetch_interval, 4 now, 5 internal_ext,
 * 7 route_params (map), 8 heartbeat_duration, 9 need_ack, 10 push_server, 11 is_first. */
typedef struct {
    live_webcast_msg_t *messages;   /* malloc'd array */
    int n_messages;
    char cursor[256];
    int64_t fetch_interval_ms, now_ms, heartbeat_ms;
    uint8_t *internal_ext;          /* malloc'd copy (echoed in acks) */
    size_t internal_ext_len;
    live_route_param_t route[LIVE_WEBCAST_MAX_ROUTE];
    int n_route;
    int need_ack, is_first;
    char push_server[1024];
} live_fetch_result_t;

/* Decodes buf (which must outlive the result: messages point into it). 0, or -1 when buf is
 * not a fetch result. Free with live_fetch_result_free (also after a failure). */
int  live_fetch_result_decode(const uint8_t *buf, size_t len, live_fetch_result_t *out);
void live_fetch_result_free(live_fetch_result_t *r);

typedef enum {
    LIVE_WC_EVENT,       /* *ev set */
    LIVE_WC_END,         /* WebcastControlMessage action 3 (ended) or 4 (suspended) */
    LIVE_WC_IGNORED,     /* known, but no event (e.g. a gift streak update, a member leaving) */
    LIVE_WC_UNKNOWN,     /* a method we do not decode */
    LIVE_WC_MALFORMED    /* a known method whose payload does not decode */
} live_wc_kind_t;

/* One message on its own: Chat → comment, Member (action 1) → join, Like → like, Gift (at
 * the end of a streak) → gift, Social (action 1 follow, 3 share) → follow / share,
 * RoomUserSeq → viewers, Control 3/4 → END. The event's id is the message's msg_id (or the
 * common data's), its time the common create_time (ms) or now. *control_action gets the
 * Control action. */
live_wc_kind_t live_webcast_decode(const live_webcast_msg_t *m, live_event_t **ev,
                                   int *control_action);

/* Frames a client sends, written into w (pb.h). room_id as decimal text; enter_id 0: none. */
int live_webcast_enter_room(live_pb_writer_t *w, const char *room_id, uint64_t enter_id);
int live_webcast_heartbeat(live_pb_writer_t *w, const char *room_id, uint64_t seq);
int live_webcast_ack(live_pb_writer_t *w, uint64_t log_id, const uint8_t *internal_ext,
                     size_t ext_len);

#endif
