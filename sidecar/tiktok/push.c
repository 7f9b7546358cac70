/* The webcast WebSocket client of push.h: one libwebsockets client context per run, created,
 * serviced and destroyed on the calling (source) thread. It dials the push URL (push_url.c;
 * wss:// verified against the system CA store, push_tls.c), adds Origin/Cookie/User-Agent,
 * sends the enter-room frame and a heartbeat on open and then one every heartbeat
 * interval (lws_sul), reassembles binary messages (bounded by LIVE_WEBCAST_MAX_FRAME),
 * decodes push frames → (gunzip) → fetch result → the handler per message, and acks frames
 * whose fetch result asks for it. A 100 ms tick checks *stop, the connect timeout and the
 * idle timeout (no frame for six heartbeats, at least 60 s). A handshake rejection (HTTP 200
 * instead of 101): libwebsockets 4.1 reports LWS_CALLBACK_CLIENT_CONNECTION_ERROR ("HS: ws upgrade
 * response not 101") with the response headers still attached, so
 * lws_http_client_http_response() gives the status and lws_hdr_custom_copy() the
 * handshake-status / handshake-msg headers. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "core/clock.h"
#include "core/log.h"
#include "tiktok/push.h"
#include "tiktok/push_tls.h"

#define PUSH_IDLE_MIN_US (60LL * 1000 * 1000)   /* see idle_timeout_us */

#define PUSH_TICK_US         (100 * 1000)     /* *stop and the timeouts are checked this often */
#define PUSH_TXQ_MAX         64               /* frames waiting for the socket */
#define PUSH_TX_FRAME_MAX    (64 * 1024)      /* an encoded frame we send */
#define PUSH_URL_MAX         16384            /* longer push URLs are refused (push_url.c) */
#define PUSH_HB_MIN_MS       500
#define PUSH_HB_MAX_MS       120000
#define PUSH_CORRUPT_LOGGED  5                /* corrupt frames logged one by one, then summed */
#define PUSH_CORRUPT_EVERY   (30LL * 1000000) /* µs between summaries */
#define PUSH_ORIGIN          "https://www.tiktok.com"
#define PUSH_CLOSE_WAIT_US   (300 * 1000)     /* for the server's answer to our close frame */

struct live_push {
    const live_config_t *cfg;
    const live_push_params_t *p;
    const live_push_handler_t *h;
    volatile int *stop;
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t tick, hb;
    char *cookie, *user_agent;       /* header-safe copies */
    int64_t heartbeat_ms, started_us, last_rx_us;
    uint64_t hb_seq;
    int established, done;
    live_tt_status_t result;
    char *detail;
    size_t detail_len;
    /* the message being received */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    int in_message, rx_binary, rx_oversized;
    /* frames to send: LWS_PRE headroom + payload each */
    uint8_t *txq[PUSH_TXQ_MAX];
    size_t txq_len[PUSH_TXQ_MAX];
    int txq_head, txq_count;
    /* corrupt frames */
    uint64_t corrupt, corrupt_reported, frames;
    int64_t corrupt_logged_at;
};


/* The run's outcome: the first one set wins. */
static __attribute__((format(printf, 3, 4))) void finish(live_push_t *P, live_tt_status_t st, const char *fmt, ...)
{
    va_list ap;

    if (P->done)
        return;
    P->done = 1;
    P->result = st;
    if (P->detail && P->detail_len) {
        va_start(ap, fmt);
        vsnprintf(P->detail, P->detail_len, fmt, ap);
        va_end(ap);
    }
    if (P->ctx)
        lws_cancel_service(P->ctx);
}

/* A header value we send: no control characters (CR/LF would inject headers). */
static char *header_safe(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    char *out;

    if (!s || n == 0 || n > max)
        return NULL;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    out[n] = '\0';
    return out;
}

/* Printable ASCII only (for details built from what a server sent). */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* ---- sending ------------------------------------------------------------------------------ */

/* Queues the frame in w (consumed) for the next WRITEABLE. */
static void queue_frame(live_push_t *P, live_pb_writer_t *w, const char *what)
{
    uint8_t *buf;
    int slot;

    if (w->failed || w->len == 0 || P->txq_count >= PUSH_TXQ_MAX) {
        LIVE_WARN("tiktok push room %s: %s frame not sent (%s)", P->p->room_id, what,
                  P->txq_count >= PUSH_TXQ_MAX ? "send queue full" : "cannot encode");
        live_pb_writer_free(w);
        return;
    }
    buf = malloc(LWS_PRE + w->len);
    if (!buf) {
        live_pb_writer_free(w);
        return;
    }
    memcpy(buf + LWS_PRE, w->buf, w->len);
    slot = (P->txq_head + P->txq_count) % PUSH_TXQ_MAX;
    P->txq[slot] = buf;
    P->txq_len[slot] = w->len;
    P->txq_count++;
    live_pb_writer_free(w);
    if (P->wsi)
        lws_callback_on_writable(P->wsi);
}

/* Sends one queued frame. -1 when the connection broke. */
static int send_one(live_push_t *P, struct lws *wsi)
{
    uint8_t *buf;
    size_t len;
    int n;

    if (P->txq_count == 0)
        return 0;
    buf = P->txq[P->txq_head];
    len = P->txq_len[P->txq_head];
    P->txq[P->txq_head] = NULL;
    P->txq_head = (P->txq_head + 1) % PUSH_TXQ_MAX;
    P->txq_count--;
    n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_BINARY);
    free(buf);
    if (n < (int)len) {
        finish(P, LIVE_TT_NETWORK, "writing to the push server failed");
        return -1;
    }
    if (P->txq_count > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

static void txq_clear(live_push_t *P)
{
    while (P->txq_count > 0) {
        free(P->txq[P->txq_head]);
        P->txq[P->txq_head] = NULL;
        P->txq_head = (P->txq_head + 1) % PUSH_TXQ_MAX;
        P->txq_count--;
    }
}

static void send_heartbeat(live_push_t *P)
{
    live_pb_writer_t w;

    live_pb_writer_init(&w, PUSH_TX_FRAME_MAX);
    live_webcast_heartbeat(&w, P->p->room_id, ++P->hb_seq);
    queue_frame(P, &w, "heartbeat");
}

static void send_enter_room(live_push_t *P)
{
    live_pb_writer_t w;
    uint64_t r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint64_t)live_mono_us() ^ ((uint64_t)getpid() << 32);
    live_pb_writer_init(&w, PUSH_TX_FRAME_MAX);
    live_webcast_enter_room(&w, P->p->room_id, (r >> 1) | 1);
    queue_frame(P, &w, "enter-room");
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    live_push_t *P = lws_container_of(sul, live_push_t, hb);

    if (P->done || !P->established)
        return;
    send_heartbeat(P);
    lws_sul_schedule(P->ctx, 0, &P->hb, heartbeat_cb, (lws_usec_t)P->heartbeat_ms * 1000);
}

/* A quiet room sends nothing for a while (and TikTok answers no pings): only a long silence
 * means a dead connection. */
static int64_t idle_timeout_us(const live_push_t *P)
{
    int64_t six = 6 * P->heartbeat_ms * 1000;
    return six > PUSH_IDLE_MIN_US ? six : PUSH_IDLE_MIN_US;
}

/* Every 100 ms: stop, connect timeout, idle timeout. */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
    live_push_t *P = lws_container_of(sul, live_push_t, tick);
    int64_t now = live_mono_us();

    lws_sul_schedule(P->ctx, 0, &P->tick, tick_cb, PUSH_TICK_US);   /* keeps lws_service short */
    if (P->done)
        return;
    if (*P->stop) {
        finish(P, LIVE_TT_OK, "stopped");
        return;
    }
    if (!P->established &&
        now - P->started_us > (int64_t)(P->cfg->tiktok_timeout_ms > 0 ?
                                         P->cfg->tiktok_timeout_ms : 10000) * 1000) {
        finish(P, LIVE_TT_NETWORK, "the push server did not complete the handshake within %d ms",
               P->cfg->tiktok_timeout_ms > 0 ? P->cfg->tiktok_timeout_ms : 10000);
        return;
    }
    if (P->established && now - P->last_rx_us > idle_timeout_us(P)) {
        finish(P, LIVE_TT_NETWORK, "no frame from the push server for %lld ms",
               (long long)(idle_timeout_us(P) / 1000));
        return;
    }
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void corrupt_frame(live_push_t *P, const char *why)
{
    int64_t now = live_mono_us();

    P->corrupt++;
    if (P->corrupt <= PUSH_CORRUPT_LOGGED) {
        LIVE_WARN("tiktok push room %s: corrupt frame skipped: %s", P->p->room_id, why);
        P->corrupt_reported = P->corrupt;
        P->corrupt_logged_at = now;
    } else if (now - P->corrupt_logged_at >= PUSH_CORRUPT_EVERY) {
        LIVE_WARN("tiktok push room %s: %llu more corrupt frames skipped (last: %s)",
                  P->p->room_id, (unsigned long long)(P->corrupt - P->corrupt_reported), why);
        P->corrupt_reported = P->corrupt;
        P->corrupt_logged_at = now;
    }
}

/* One complete binary message. 1 when the handler asked to end. */
static int process_frame(live_push_t *P)
{
    live_push_frame_t f;
    live_fetch_result_t fr;
    const uint8_t *data;
    uint8_t *inflated = NULL;
    size_t len;
    int end = 0;

    if (live_push_frame_decode(P->rx, P->rx_len, &f) != 0) {
        corrupt_frame(P, "not a push frame");
        return 0;
    }
    if (strcmp(f.payload_type, "msg") != 0)       /* hb, ack, im_enter_room_resp … */
        return 0;
    data = f.payload;
    len = f.payload_len;
    if (f.gzip) {
        if (live_gunzip(f.payload, f.payload_len, LIVE_WEBCAST_MAX_INFLATED, &inflated,
                        &len) != 0) {
            corrupt_frame(P, "gzip payload does not inflate");
            return 0;
        }
        data = inflated;
    }
    memset(&fr, 0, sizeof(fr));
    if (live_fetch_result_decode(data, len, &fr) != 0) {
        corrupt_frame(P, "payload is not a fetch result");
    } else {
        if (fr.need_ack) {
            live_pb_writer_t w;
            const uint8_t *ext = fr.internal_ext_len ? fr.internal_ext : P->p->internal_ext;
            size_t ext_len = fr.internal_ext_len ? fr.internal_ext_len : P->p->internal_ext_len;
            live_pb_writer_init(&w, PUSH_TX_FRAME_MAX);
            live_webcast_ack(&w, f.log_id, ext, ext_len);
            queue_frame(P, &w, "ack");
        }
        for (int i = 0; i < fr.n_messages && !end; i++)
            end = P->h->message(P->h->ctx, &fr.messages[i]) != 0;
    }
    live_fetch_result_free(&fr);
    free(inflated);
    return end;
}

/* A piece of a WebSocket message (a complete one is processed). */
static void receive(live_push_t *P, struct lws *wsi, const uint8_t *in, size_t len)
{
    P->last_rx_us = live_mono_us();
    if (!P->in_message) {
        P->in_message = 1;
        P->rx_len = 0;
        P->rx_oversized = 0;
        P->rx_binary = lws_frame_is_binary(wsi);
    }
    if (!P->rx_oversized && P->rx_binary) {
        if (len > LIVE_WEBCAST_MAX_FRAME - P->rx_len) {
            P->rx_oversized = 1;
        } else if (P->rx_len + len > P->rx_cap) {
            size_t cap = P->rx_cap ? P->rx_cap : 16384;
            uint8_t *nb;
            while (cap < P->rx_len + len)
                cap *= 2;
            if (cap > LIVE_WEBCAST_MAX_FRAME)
                cap = LIVE_WEBCAST_MAX_FRAME;
            nb = realloc(P->rx, cap);
            if (!nb) {
                P->rx_oversized = 1;
            } else {
                P->rx = nb;
                P->rx_cap = cap;
            }
        }
        if (!P->rx_oversized && len) {
            memcpy(P->rx + P->rx_len, in, len);
            P->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return;
    P->in_message = 0;
    P->frames++;
    if (!P->rx_binary)
        return;
    if (P->rx_oversized) {
        corrupt_frame(P, "larger than the frame limit");
        return;
    }
    if (process_frame(P))
        finish(P, LIVE_TT_OK, "ended by the handler");   /* closed politely by the run loop */
}

/* ---- the connection ----------------------------------------------------------------------- */

/* A refused upgrade: TikTok answers HTTP 200 with handshake-status / handshake-msg. */
static void connection_error(live_push_t *P, struct lws *wsi, const char *why, size_t why_len)
{
    unsigned status = lws_http_client_http_response(wsi);
    char hs[64] = "", msg[128] = "", text[160];
    int n1 = lws_hdr_custom_copy(wsi, hs, sizeof(hs), "handshake-status:", 17);
    int n2 = lws_hdr_custom_copy(wsi, msg, sizeof(msg), "handshake-msg:", 14);

    if (n1 < 0)
        hs[0] = '\0';
    if (n2 < 0)
        msg[0] = '\0';
    printable(hs);
    printable(msg);
    snprintf(text, sizeof(text), "%.*s", why ? (int)(why_len < 120 ? why_len : 120) : 0,
             why ? why : "");
    printable(text);
    if (hs[0] || msg[0])
        finish(P, LIVE_TT_BLOCKED, "handshake-status %s %s", hs[0] ? hs : "?",
               msg[0] ? msg : "?");
    else if (status == 200)
        finish(P, LIVE_TT_BLOCKED, "the push server answered HTTP 200 instead of 101");
    else if (status)
        finish(P, LIVE_TT_NETWORK, "the push server answered HTTP %u", status);
    else if (strstr(text, "SSL") || strstr(text, "ssl"))
        finish(P, LIVE_TT_NETWORK, "TLS with the push server failed (untrusted certificate, "
               "wrong host name or a TLS error): %s", text);
    else
        finish(P, LIVE_TT_NETWORK, "cannot connect to the push server: %s",
               text[0] ? text : "connection failed");
}

static int push_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    live_push_t *P = ctx ? lws_context_user(ctx) : NULL;

    (void)user;
    if (!P)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        if (P->cookie && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_COOKIE,
                                                      (unsigned char *)P->cookie,
                                                      (int)strlen(P->cookie), p, end))
            return -1;
        if (P->user_agent && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
                                                          (unsigned char *)P->user_agent,
                                                          (int)strlen(P->user_agent), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        connection_error(P, wsi, in, in ? len : 0);
        P->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        P->wsi = wsi;
        P->established = 1;
        P->last_rx_us = live_mono_us();
        LIVE_DEBUG("tiktok push room %s: connected", P->p->room_id);
        send_enter_room(P);
        send_heartbeat(P);
        lws_sul_schedule(P->ctx, 0, &P->hb, heartbeat_cb, (lws_usec_t)P->heartbeat_ms * 1000);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (P->done)
            return 0;                       /* closing: what still comes in is dropped */
        receive(P, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (P->done) {                      /* a polite end: a close frame (1000) */
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return send_one(P, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const uint8_t *b = in;
        unsigned code = len >= 2 ? (unsigned)(b[0] << 8 | b[1]) : 0;
        char why[96];
        snprintf(why, sizeof(why), "%.*s", len > 2 ? (int)(len - 2 < 80 ? len - 2 : 80) : 0,
                 len > 2 ? (const char *)b + 2 : "");
        printable(why);
        finish(P, LIVE_TT_NETWORK, "the push server closed the connection (%u%s%s)", code,
               why[0] ? " " : "", why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        finish(P, LIVE_TT_NETWORK, "the push server connection dropped");
        P->wsi = NULL;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (P->wsi == wsi)
            P->wsi = NULL;
        finish(P, LIVE_TT_NETWORK, "the push server connection dropped");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols push_protocols[] = {
    { "live-tiktok-push", push_cb, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

live_tt_status_t live_push_run(const live_config_t *cfg, const live_push_params_t *p,
                               const live_push_handler_t *h, volatile int *stop,
                               char *detail, size_t detail_len)
{
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    struct lws_vhost *vhost = NULL;
    void *tls_ctx = NULL;
    live_push_t P;
    char *url = NULL, host[300];
    const char *prot = NULL, *address = NULL, *path = NULL;
    char *fullpath = NULL;
    int port = 0, tls;

    memset(&P, 0, sizeof(P));
    P.cfg = cfg;
    P.p = p;
    P.h = h;
    P.stop = stop;
    P.detail = detail;
    P.detail_len = detail_len;
    if (detail && detail_len)
        detail[0] = '\0';
    P.heartbeat_ms = p->heartbeat_ms > 0 ? p->heartbeat_ms
                                         : (int64_t)(cfg->tiktok_heartbeat_s > 0 ?
                                                     cfg->tiktok_heartbeat_s : 10) * 1000;
    if (P.heartbeat_ms < PUSH_HB_MIN_MS)
        P.heartbeat_ms = PUSH_HB_MIN_MS;
    if (P.heartbeat_ms > PUSH_HB_MAX_MS)
        P.heartbeat_ms = PUSH_HB_MAX_MS;

    if (!p->url || !p->room_id || strnlen(p->url, PUSH_URL_MAX + 1) > PUSH_URL_MAX ||
        !(url = strdup(p->url)) || lws_parse_uri(url, &prot, &address, &port, &path) ||
        !address[0] || (strcmp(prot, "ws") && strcmp(prot, "wss"))) {
        finish(&P, LIVE_TT_UPSTREAM_CHANGED, "the push URL is not a ws:// or wss:// URL");
        free(url);
        return P.result;
    }
    tls = strcmp(prot, "wss") == 0;
    fullpath = malloc(strlen(path) + 2);
    P.cookie = p->cookie && p->cookie[0] ? header_safe(p->cookie, 8192) : NULL;
    P.user_agent = header_safe(cfg->tiktok_user_agent, 511);
    if (!fullpath) {
        finish(&P, LIVE_TT_NETWORK, "out of memory");
        goto out;
    }
    fullpath[0] = '/';
    strcpy(fullpath + 1, path);
    if ((tls && port == 443) || (!tls && port == 80))
        snprintf(host, sizeof(host), "%s", address);
    else
        snprintf(host, sizeof(host), "%s:%d", address, port);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = push_protocols;
    info.gid = info.uid = -1;
    info.user = &P;
    /* No LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT: push_tls.c gives the vhost its TLS. */
    info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.vhost_name = "live-tiktok-push";
    info.fd_limit_per_thread = 8;
    info.pt_serv_buf_size = 32768;           /* the handshake: long query, cookies, UA */
    info.max_http_header_data = 32768;       /* holds the request's path and the answer */
    info.max_http_header_pool = 2;
    info.timeout_secs = (unsigned)((cfg->tiktok_timeout_ms > 0 ? cfg->tiktok_timeout_ms
                                                               : 10000) + 999) / 1000;
    info.connect_timeout_secs = info.timeout_secs;
    P.ctx = lws_create_context(&info);
    vhost = P.ctx ? live_push_vhost(P.ctx, &info, tls, &tls_ctx) : NULL;
    if (!vhost) {
        finish(&P, LIVE_TT_NETWORK, "cannot create the WebSocket client%s",
               tls ? " (TLS set-up failed)" : "");
        goto out;
    }
    P.started_us = live_mono_us();
    lws_sul_schedule(P.ctx, 0, &P.tick, tick_cb, PUSH_TICK_US);

    memset(&ci, 0, sizeof(ci));
    ci.context = P.ctx;
    ci.vhost = vhost;
    ci.address = address;
    ci.port = port;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.path = fullpath;
    ci.host = host;
    ci.origin = PUSH_ORIGIN;
    ci.local_protocol_name = push_protocols[0].name;
    ci.pwsi = &P.wsi;
    LIVE_DEBUG("tiktok push room %s: dialling %s:%d (%s)", p->room_id, address, port,
               tls ? "tls" : "plain");
    if (!lws_client_connect_via_info(&ci))
        finish(&P, LIVE_TT_NETWORK, "cannot connect to the push server %s", host);

    while (!P.done) {
        if (*stop) {
            finish(&P, LIVE_TT_OK, "stopped");
            break;
        }
        if (lws_service(P.ctx, 0) < 0)
            finish(&P, LIVE_TT_NETWORK, "the WebSocket client failed");
    }
    /* Stopped or ended by the handler on an open connection: send a close frame and give the
     * server PUSH_CLOSE_WAIT_US to answer it (the tick keeps lws_service returning). */
    if (P.ctx && P.wsi && P.established && P.result == LIVE_TT_OK) {
        int64_t until = live_mono_us() + PUSH_CLOSE_WAIT_US;
        lws_callback_on_writable(P.wsi);
        while (P.wsi && live_mono_us() < until)
            if (lws_service(P.ctx, 0) < 0)
                break;
    }

out:
    if (P.ctx) {
        lws_sul_cancel(&P.tick);
        lws_sul_cancel(&P.hb);
        lws_context_destroy(P.ctx);          /* closes the connection (callbacks see done) */
        P.ctx = NULL;
    }
    live_push_tls_free(tls_ctx);
    if (P.corrupt > P.corrupt_reported)
        LIVE_WARN("tiktok push room %s: %llu corrupt frames skipped in all", p->room_id,
                  (unsigned long long)P.corrupt);
    LIVE_DEBUG("tiktok push room %s: run ended after %llu frames: %s", p->room_id,
               (unsigned long long)P.frames, live_tt_reason(P.result));
    txq_clear(&P);
    free(P.rx);
    free(P.cookie);
    free(P.user_agent);
    free(fullpath);
    free(url);
    return P.result;
}
