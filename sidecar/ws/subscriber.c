/* WebSocket subscribers and the loop's side of the hub (see ws/subscriber.h): routes what the
 * worker threads queue to channels, keeps each subscriber's cursor moving (history → ring →
 * live, no gap, no duplicate), bounds history requests and applies the slow-client and drain
 * policies. Main thread only. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/history.h"
#include "session/session.h"
#include "ws/hub_loop.h"
#include "ws/requests.h"
#include "ws/subscriber.h"
#include "ws/wsframe.h"

#define LIVE_SUB_SKIP_MAX     4096      /* filtered frames skipped per writable callback */
#define LIVE_SUB_CLOSE_WAIT_S 5         /* a closing client not writable in time is dropped */

static struct {
    live_channels_t channels;
    int ready;
    int client_queue;
    int history_batch;
    int draining;
    int clients;
    live_link_t waitq;                  /* subscribers waiting for a history slot */
    live_wsbatch_t batch;               /* the frames of one write, reused for every write */
} L;

/* The subscriber a list node (its link or wait member) belongs to. */
#define SUB_OF(node, member) ((live_sub_t *)(void *)((char *)(node) - offsetof(live_sub_t, member)))
#define sub_of(l) SUB_OF(l, link)

static void sub_update(live_sub_t *s);

/* ---- history requests -------------------------------------------------------------------- */

static int submit_sub(live_sub_t *s)
{
    if (live_req_submit(s->ch->id, s->next - 1, L.history_batch, 0, s, &s->req_id) < 0)
        return -1;
    s->phase = LIVE_SUB_CATCHUP;         /* behind again: the client_queue limit waits */
    return 0;
}

static void wait_remove(live_sub_t *s)
{
    if (s->waiting) {
        live_link_del(&s->wait);
        s->waiting = 0;
    }
}

static void pump_waitq(void)
{
    while (!live_link_empty(&L.waitq)) {
        live_sub_t *s = SUB_OF(L.waitq.next, wait);
        if (submit_sub(s) < 0)
            return;
        wait_remove(s);
    }
}

static void sub_request_history(live_sub_t *s)
{
    if (s->req_id || s->waiting)
        return;
    if (submit_sub(s) < 0) {
        live_link_add_tail(&L.waitq, &s->wait);
        s->waiting = 1;
    }
}

static void channel_kick(live_channel_t *ch, int64_t now)
{
    live_fetch_kind_t kind;
    int64_t after;

    if (!live_channel_need_fetch(ch, now, &kind, &after) ||
        live_req_count() >= LIVE_WS_HISTORY_MAX)
        return;                          /* no slot: the tick tries again */
    if (live_req_submit(ch->id, after, kind == LIVE_FETCH_PROBE ? 1 : L.history_batch, 1, ch,
                        &ch->fetch_id) < 0) {
        ch->fetch_due_us = now + 1000000;
        return;
    }
    ch->fetch_kind = kind;
}

/* ---- writing ----------------------------------------------------------------------------- */

static int matches(const live_sub_t *s, const live_frame_t *f)
{
    return f->final || ((unsigned)f->type < LIVE_EV__COUNT && (s->types & (1u << f->type)));
}

/* One batch of complete frames per writable callback (see ws/subscriber.h), at most
 * LIVE_SUB_BATCH_FRAMES frames and the bytes libwebsockets sends in one send(): it cuts a
 * write into sends of its protocol's tx_packet_size (rx_buffer_size when 0). */
#define LIVE_SUB_BATCH_FRAMES 64
#define LIVE_SUB_BATCH_BYTES  (32 * 1024)

static int batch_begin(live_sub_t *s)
{
    const struct lws_protocols *p = lws_get_protocol(s->wsi);
    size_t n = p ? (p->tx_packet_size ? p->tx_packet_size : p->rx_buffer_size) : 0;

    if (!n)
        n = 4096;
    return live_wsbatch_begin(&L.batch, LWS_PRE, n < LIVE_SUB_BATCH_BYTES ? n :
                              LIVE_SUB_BATCH_BYTES, LIVE_SUB_BATCH_FRAMES);
}

/* libwebsockets copies what the socket does not take and reports the whole length. */
static int batch_send(live_sub_t *s)
{
    const live_wsbatch_t *b = &L.batch;

    if (!b->len)
        return 0;
    if (b->len > INT_MAX || lws_write(s->wsi, b->buf, b->len, LWS_WRITE_RAW) < (int)b->len)
        return -1;
    return 0;
}

static int add_waiting(live_sub_t *s)
{
    char when[32], json[256];
    int n;

    live_iso8601_ms(live_now_us(), when, sizeof(when));
    n = snprintf(json, sizeof(json),
                 "{\"session_id\":\"%s\",\"offset\":null,\"type\":\"status\",\"id\":null,"
                 "\"time\":\"%s\",\"user\":null,\"status\":\"waiting\",\"reason\":null}",
                 s->ch->id, when);
    if (n < 0 || (size_t)n >= sizeof(json))
        return -1;
    return live_wsbatch_add(&L.batch, json, (size_t)n);
}

static int close_now(live_sub_t *s)
{
    const char *reason = s->close_reason ? s->close_reason : "";

    lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                     (unsigned char *)(uintptr_t)reason, strlen(reason));
    return -1;
}

/* Stops sending; the next writable callback sends the close frame. */
static void sub_close(live_sub_t *s, int code, const char *reason)
{
    if (s->phase == LIVE_SUB_CLOSING)
        return;
    s->phase = LIVE_SUB_CLOSING;
    s->close_code = code;
    s->close_reason = reason;
    s->send_waiting = 0;
    live_frame_free_chain(s->backfill);
    s->backfill = NULL;
    wait_remove(s);
    lws_callback_on_writable(s->wsi);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LIVE_SUB_CLOSE_WAIT_S);
}

static void too_slow(live_sub_t *s, const char *why)
{
    LIVE_INFO("ws %s: client too slow (%s at offset %lld, last %lld): closing 4008",
              s->ch->id, why, (long long)s->next, (long long)s->ch->last_offset);
    sub_close(s, 4008, "too slow");
}

/* Moves next over ring frames the client does not want. */
static void skip_filtered(live_sub_t *s)
{
    live_channel_t *ch = s->ch;

    if (s->backfill || s->send_waiting || s->req_id || s->waiting)
        return;
    while (s->next <= ch->last_offset) {
        live_frame_t *f = live_ring_get(&ch->ring, s->next);
        if (!f || matches(s, f))
            break;
        s->next++;
    }
}

/* Drain: 1 when nothing more is coming for s soon (its channel is not fed here, or the
 * persister and the hub have nothing left). */
static int drain_ready(const live_sub_t *s)
{
    return !s->ch->captured || (!live_hub_pending() && !live_sessions_pending());
}

/* Decides what s needs next: a writable callback, a history read, or nothing yet. */
static void sub_update(live_sub_t *s)
{
    live_channel_t *ch = s->ch;

    if (s->phase == LIVE_SUB_CLOSING) {
        lws_callback_on_writable(s->wsi);
        return;
    }
    if (s->phase == LIVE_SUB_PENDING) {
        if (L.draining)
            sub_close(s, 1001, "going away");
        return;
    }
    if (s->send_waiting || s->backfill) {
        lws_callback_on_writable(s->wsi);
        return;
    }
    if (s->req_id || s->waiting) {
        if (L.draining)
            sub_close(s, 1001, "going away");
        return;
    }
    skip_filtered(s);
    switch (live_channel_plan(ch, s->next)) {
    case LIVE_PLAN_RING:
    case LIVE_PLAN_END:
        lws_callback_on_writable(s->wsi);
        return;
    case LIVE_PLAN_HISTORY:
        if (L.draining) {
            sub_close(s, 1001, "going away");
            return;
        }
        sub_request_history(s);
        return;
    case LIVE_PLAN_WAIT:
        s->phase = LIVE_SUB_LIVE;
        if (L.draining && drain_ready(s))
            sub_close(s, 1001, "going away");
        return;
    }
}

static void sub_start(live_sub_t *s, int64_t base)
{
    live_channel_t *ch = s->ch;

    s->next = live_channel_start(ch, s->since, base);
    s->phase = LIVE_SUB_CATCHUP;
    if (ch->last_offset == 0 && live_channel_plan(ch, s->next) == LIVE_PLAN_WAIT)
        s->send_waiting = 1;
    sub_update(s);
}

/* Adds what s is due, in order, until the batch is full or holds the final frame: the history
 * frames first (older or unwanted ones dropped), then the ring's (at most LIVE_SUB_SKIP_MAX
 * unwanted ones skipped). *end when the session ended before next. 0, or -1 out of memory. */
static int batch_fill(live_sub_t *s, int *final, int *end)
{
    live_channel_t *ch = s->ch;
    int skipped = 0, rc;

    while (s->backfill && !*final) {
        live_frame_t *f = s->backfill;

        if (f->offset >= s->next && matches(s, f)) {
            if ((rc = live_wsbatch_add(&L.batch, f->json, f->len)) <= 0)
                return rc;               /* full: f stays first */
            if (f->offset > s->next)
                LIVE_WARN("ws %s: history has no events %lld..%lld", ch->id,
                          (long long)s->next, (long long)f->offset - 1);
            *final = f->final;
        }
        if (f->offset >= s->next)
            s->next = f->offset + 1;
        s->backfill = f->next;
        free(f);
    }
    while (!s->backfill && !*final && skipped < LIVE_SUB_SKIP_MAX) {
        live_plan_t plan = live_channel_plan(ch, s->next);
        live_frame_t *f;

        if (plan != LIVE_PLAN_RING) {
            *end = plan == LIVE_PLAN_END;
            return 0;
        }
        f = live_ring_get(&ch->ring, s->next);
        if (f && matches(s, f)) {
            if ((rc = live_wsbatch_add(&L.batch, f->json, f->len)) <= 0)
                return rc;               /* full: next stays at f */
            *final = f->final;
        } else {
            skipped++;
        }
        s->next++;
    }
    return 0;
}

int live_sub_writable(live_sub_t *s)
{
    int final = 0, end = 0;

    if (s->phase == LIVE_SUB_CLOSING)
        return close_now(s);
    if (!s->ch || !s->wsi || batch_begin(s) < 0 ||
        (s->send_waiting && add_waiting(s) <= 0) || batch_fill(s, &final, &end) < 0)
        return -1;
    s->send_waiting = 0;
    if (end && !L.batch.frames) {
        s->close_code = 1000;
        s->close_reason = "session ended";
        return close_now(s);
    }
    if (batch_send(s) < 0)
        return -1;
    if (final || end)
        sub_close(s, 1000, "session ended");
    else
        sub_update(s);
    return 0;
}

/* ---- channel changes ------------------------------------------------------------------ */

static void channel_changed(live_channel_t *ch, unsigned flags, int64_t base, int64_t batch)
{
    live_link_t *l;

    if (!flags)
        return;
    for (l = ch->subs.next; l != &ch->subs; l = l->next) {
        live_sub_t *s = sub_of(l);

        if (s->phase == LIVE_SUB_CLOSING)
            continue;
        if (s->phase == LIVE_SUB_PENDING) {
            if (flags & LIVE_CH_F_FRESHENED)
                sub_start(s, base);
            continue;
        }
        if (flags & LIVE_CH_F_RESET) {
            /* A gap or a recreated session: older events come from history again. */
            if (s->next > ch->last_offset + 1)
                s->next = ch->last_offset + 1;
            if (ch->state == LIVE_CH_ABSENT)
                s->send_waiting = 1;
        }
        /* A client that was caught up and is now more than client_queue events behind (the
         * batch that just came aside: it is not the client's fault) is cut. Behind the ring
         * it reads history again and must catch up before the limit applies again. */
        if ((flags & LIVE_CH_F_APPENDED) && s->phase == LIVE_SUB_LIVE && !s->backfill &&
            !s->req_id && !s->waiting) {
            skip_filtered(s);
            if (live_channel_lag(ch, s->next) - batch > L.client_queue) {
                too_slow(s, "queue full");
                continue;
            }
        }
        sub_update(s);
    }
}

static void on_publish(live_hub_msg_t *m, int64_t now)
{
    live_channel_t *ch = live_channel_get(&L.channels, m->session_id, 1, now);
    int64_t base = 0;
    unsigned flags;

    if (!ch)
        return;                          /* OOM: the frames are freed with m */
    flags = live_channel_append(ch, m->frames, 1, now, &base);
    m->frames = NULL;
    channel_changed(ch, flags, base, (int64_t)m->nframes);
}

static void on_remote(live_hub_msg_t *m, int64_t now)
{
    live_channel_t *ch = live_channel_find(&L.channels, m->session_id);

    if (!ch)
        return;
    live_channel_remote(ch, m->last_offset);
    /* A session our persister feeds is followed by the tick only (its publish is due). */
    if (!ch->captured)
        channel_kick(ch, now);
}

static void on_sub_history(live_sub_t *s, live_history_result_t *res)
{
    s->req_id = 0;
    if (s->phase == LIVE_SUB_CLOSING)
        return;
    if (!res->error && res->found && res->frames) {
        s->backfill = res->frames;
        res->frames = NULL;
        sub_update(s);
        return;
    }
    if (!res->error && live_channel_plan(s->ch, s->next) != LIVE_PLAN_HISTORY) {
        sub_update(s);
        return;
    }
    LIVE_WARN("ws %s: history after %lld unreadable%s", s->ch->id, (long long)s->next - 1,
              res->error ? " (database error)" : " (no events)");
    sub_close(s, 1011, "history unreadable");
}

static void on_channel_history(live_channel_t *ch, live_history_result_t *res, int64_t now)
{
    int64_t base = ch->last_offset, batch = 0;
    unsigned flags;
    int follow;

    if (res->error) {
        ch->fetch_id = 0;
        ch->fetch_kind = LIVE_FETCH_NONE;
        ch->fetch_errors++;
        ch->fetch_due_us = now + (int64_t)(ch->fetch_errors < 10 ? ch->fetch_errors : 10) * 1000000;
        if (!ch->fresh && ch->fetch_errors >= 3) {
            for (live_link_t *l = ch->subs.next; l != &ch->subs; l = l->next)
                if (sub_of(l)->phase == LIVE_SUB_PENDING)
                    sub_close(sub_of(l), 1011, "history unreadable");
        }
        return;
    }
    for (live_frame_t *f = res->frames; f; f = f->next)
        batch++;
    follow = ch->fetch_kind == LIVE_FETCH_FOLLOW;
    flags = live_channel_apply(ch, res->found, res->status, res->last_offset, res->frames,
                               now, &base);
    res->frames = NULL;
    if (follow && !(flags & LIVE_CH_F_APPENDED))
        ch->fetch_due_us = now + 1000000;    /* no progress: do not spin on the database */
    channel_changed(ch, flags, base, batch);
    channel_kick(ch, now);                   /* the next page, if any */
}

static void on_history(live_history_result_t *res, int64_t now)
{
    void *owner = NULL;
    int for_channel = 0;

    if (!live_req_take(res->request_id, &owner, &for_channel))
        return;
    if (owner && for_channel)
        on_channel_history(owner, res, now);
    else if (owner)
        on_sub_history(owner, res);
    pump_waitq();
}

void live_subs_dispatch(void)
{
    live_hub_msg_t *m;

    if (!L.ready)
        return;
    m = live_hub_take();
    while (m) {
        live_hub_msg_t *next = m->next;
        int64_t now = live_now_us();

        switch (m->kind) {
        case LIVE_HUB_PUBLISH: on_publish(m, now); break;
        case LIVE_HUB_REMOTE:  on_remote(m, now); break;
        case LIVE_HUB_HISTORY: on_history(m->history, now); break;
        }
        live_hub_msg_free(m);
        m = next;
    }
}

/* ---- connections ------------------------------------------------------------------------ */

void live_sub_open(live_sub_t *s, struct lws *wsi, const live_ws_request_t *req,
                   int send_buffer)
{
    int64_t now = live_now_us();
    live_channel_t *ch;

    s->wsi = wsi;
    s->since = req->since;
    s->types = req->types;
    live_link_init(&s->link);
    live_link_init(&s->wait);
    L.clients++;
    if (send_buffer > 0) {
        int fd = (int)lws_get_socket_fd(wsi);
        if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer,
                                  sizeof(send_buffer)) < 0)
            LIVE_DEBUG("ws %s: SO_SNDBUF %d not applied", req->id, send_buffer);
    }
    ch = L.ready ? live_channel_get(&L.channels, req->id, 0, now) : NULL;
    if (!ch) {
        LIVE_WARN("ws %s: no room for another channel: closing 1013", req->id);
        s->phase = LIVE_SUB_CLOSING;
        s->close_code = 1013;
        s->close_reason = "try again later";
        lws_callback_on_writable(wsi);
        return;
    }
    s->ch = ch;
    live_channel_sub_add(ch, &s->link, now);
    if (ch->fresh && ch->state != LIVE_CH_UNKNOWN) {
        sub_start(s, ch->last_offset);
    } else {
        s->phase = LIVE_SUB_PENDING;
        channel_kick(ch, now);
    }
}

void live_sub_closed(live_sub_t *s)
{
    if (!s->wsi)
        return;
    L.clients--;
    LIVE_DEBUG("ws %s: client gone at offset %lld (close %d)", s->ch ? s->ch->id : "-",
               (long long)s->next, s->close_code);
    live_req_forget(s->req_id);          /* its result is dropped when it comes */
    wait_remove(s);
    live_frame_free_chain(s->backfill);
    s->backfill = NULL;
    if (s->ch)
        live_channel_sub_del(s->ch, &s->link, live_now_us());
    s->ch = NULL;
    s->wsi = NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void kick_each(live_channel_t *ch, void *arg)
{
    int64_t now = *(int64_t *)arg;

    channel_kick(ch, now);
    if (L.draining)
        for (live_link_t *l = ch->subs.next; l != &ch->subs; l = l->next)
            sub_update(sub_of(l));
}

void live_subs_tick(void)
{
    int64_t now = live_now_us();

    if (!L.ready)
        return;
    live_channels_each(&L.channels, kick_each, &now);
    pump_waitq();
    live_channels_sweep(&L.channels, now);
}

void live_subs_drain(void)
{
    int64_t now = live_now_us();

    L.draining = 1;
    if (L.ready)
        live_channels_each(&L.channels, kick_each, &now);
}

int live_subs_room(const char *id)
{
    return L.ready && live_channels_room(&L.channels, id);
}

int live_subs_channels(void)
{
    return L.ready ? L.channels.count : 0;
}

int live_subs_clients(void)
{
    return L.clients;
}

void live_subs_reload(const live_config_t *cfg)
{
    L.client_queue = cfg->client_queue > 0 ? cfg->client_queue : 1;
    L.history_batch = cfg->history_batch > 0 ? cfg->history_batch : 1000;
}

int live_subs_init(const live_config_t *cfg)
{
    memset(&L, 0, sizeof(L));
    live_link_init(&L.waitq);
    live_req_reset();
    live_subs_reload(cfg);
    if (live_channels_init(&L.channels, LIVE_CHANNELS_MAX,
                           (uint32_t)(cfg->session_buffer > 0 ? cfg->session_buffer : 1)) < 0)
        return -1;
    L.ready = 1;
    return 0;
}

void live_subs_shutdown(void)
{
    if (L.ready)
        live_channels_destroy(&L.channels);
    live_hub_clear();
    live_wsbatch_free(&L.batch);
    memset(&L, 0, sizeof(L));
}
