/* The frames a webcast client sends (tiktok/webcast.h): the WebcastPushFrame around an
 * enter-room message ("im_enter_room"), a heartbeat ("hb") or an ack ("ack", log_id echoed,
 * the fetch result's internal_ext as payload). Each is appended to the caller's writer. */
#include <string.h>

#include "tiktok/webcast.h"

#define LIVE_ID     12           /* WebcastImEnterRoomMessage.live_id */
#define IDENTITY    "audience"

/* A room id: 1..20 decimal digits that fit 64 bits. */
static int parse_room_id(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;

    if (!s || !*s)
        return -1;
    for (; s[n]; n++) {
        unsigned d = (unsigned)(s[n] - '0');
        if (d > 9 || n >= 20 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* PushFrame{[2 log_id], 7 payload_type, 8 payload} appended to w. */
static int put_frame(live_pb_writer_t *w, int with_log_id, uint64_t log_id, const char *type,
                     const uint8_t *payload, size_t len)
{
    if (w->failed)
        return -1;
    if (with_log_id && live_pb_put_varint(w, 2, log_id) < 0)
        return -1;
    if (live_pb_put_string(w, 7, type) < 0 || live_pb_put_bytes(w, 8, payload, len) < 0)
        return -1;
    return 0;
}

/* The inner message in its own writer (bounded like w), then the frame around it. */
static int wrap(live_pb_writer_t *w, live_pb_writer_t *inner, const char *type)
{
    int rc = -1;

    if (!inner->failed)
        rc = put_frame(w, 0, 0, type, inner->buf, inner->len);
    else
        w->failed = 1;
    live_pb_writer_free(inner);
    return rc;
}

/* Starts, in its own writer bounded like w, an inner message whose field 1 is the room id
 * (decimal text). -1 (w marked failed) when w failed already or the id is not a 64-bit
 * decimal. */
static int room_message(live_pb_writer_t *w, const char *room_id, live_pb_writer_t *in)
{
    uint64_t room;

    if (w->failed)
        return -1;
    if (parse_room_id(room_id, &room) < 0) {
        w->failed = 1;
        return -1;
    }
    live_pb_writer_init(in, w->max);
    live_pb_put_varint(in, 1, room);
    return 0;
}

int live_webcast_enter_room(live_pb_writer_t *w, const char *room_id, uint64_t enter_id)
{
    live_pb_writer_t in;

    /* WebcastImEnterRoomMessage: 1 room_id, 4 live_id, 5 identity, 8 enter_unique_id. */
    if (room_message(w, room_id, &in) < 0)
        return -1;
    live_pb_put_varint(&in, 4, LIVE_ID);
    live_pb_put_string(&in, 5, IDENTITY);
    if (enter_id)
        live_pb_put_varint(&in, 8, enter_id);
    return wrap(w, &in, "im_enter_room");
}

int live_webcast_heartbeat(live_pb_writer_t *w, const char *room_id, uint64_t seq)
{
    live_pb_writer_t in;

    /* HeartBeatMessage: 1 room_id, 2 seq. */
    if (room_message(w, room_id, &in) < 0)
        return -1;
    live_pb_put_varint(&in, 2, seq);
    return wrap(w, &in, "hb");
}

int live_webcast_ack(live_pb_writer_t *w, uint64_t log_id, const uint8_t *internal_ext,
                     size_t ext_len)
{
    if (!internal_ext && ext_len > 0) {
        w->failed = 1;
        return -1;
    }
    return put_frame(w, 1, log_id, "ack", internal_ext, ext_len);
}
