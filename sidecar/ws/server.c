/* The WebSocket server (libwebsockets 4.1, default poll loop, main thread only): one
 * listener (loopback TCP or a unix socket) and one protocol that serves
 *   GET /health                        → 200 JSON
 *   GET /ws/comments/{id}?since&types  → WebSocket upgrade (ws/subscriber.c does the rest)
 * Upgrades are checked in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, before the 101: a refused one
 * gets an HTTP status with a JSON body (403 identity, 400 parameters, 404 path, 503 draining
 * or full). Other threads hand work over through the hub and wake the loop with
 * lws_cancel_service (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "core/clock.h"
#include "core/log.h"
#include "live_identity.h"
#include "session/session.h"
#include "ws/server.h"
#include "ws/request.h"
#include "ws/subscriber.h"

#define LIVE_WS_TICK_US       (1000 * 1000)
#define LIVE_WS_TICK_DRAIN_US (200 * 1000)
#define LIVE_WS_PROTOCOL      "profile-live"

static struct {
    struct lws_context *ctx;           /* read by other threads (live_server_wake) */
    unsigned char secret[256];
    size_t secret_len;
    char sidecar_id[128];
    int max_clients;
    int send_buffer;
    int draining;
    lws_retry_bo_t retry;              /* ping / hang-up of idle connections */
    lws_sorted_usec_list_t tick;
    struct lws *stash_wsi;             /* the upgrade confirmed last (synchronous) */
    live_ws_request_t stash;
} S;

/* ---- HTTP answers ------------------------------------------------------------------------ */

static int http_reply(struct lws *wsi, unsigned code, const char *body)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof(buf) - 1;
    size_t len = strlen(body);

    if (len > sizeof(buf) - LWS_PRE - 1)
        return -1;
    if (lws_add_http_common_headers(wsi, code, "application/json", (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(start, body, len);
    if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return -1;
    return 0;
}

static int http_error(struct lws *wsi, unsigned code, const char *error, const char *message)
{
    char body[512];

    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\",\"status\":%u}",
             error, message, code);
    return http_reply(wsi, code, body);
}

static int health(struct lws *wsi)
{
    json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i}", "status", S.draining ? "draining" : "ok",
                          "sidecar_id", S.sidecar_id, "sessions", live_sessions_count(),
                          "clients", live_subs_clients(), "channels", live_subs_channels());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = text ? http_reply(wsi, 200, text) : -1;

    free(text);
    json_decref(o);
    return rc;
}

/* LWS_CALLBACK_HTTP (not an upgrade): 0 to keep the connection, -1 to close it. */
static int http_request(struct lws *wsi, const char *uri)
{
    int rc;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        http_error(wsi, 405, "method_not_allowed", "only GET is served here");
        return -1;
    }
    if (uri && !strcmp(uri, "/health"))
        rc = health(wsi);
    else
        rc = http_error(wsi, 404, "not_found", "no such resource");
    if (rc < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- the upgrade filter ------------------------------------------------------------------ */

static int custom_header(struct lws *wsi, const char *name, char *dst, int len)
{
    int n = lws_hdr_custom_length(wsi, name, (int)strlen(name));

    if (n <= 0 || n >= len)
        return -1;
    return lws_hdr_custom_copy(wsi, dst, len, name, (int)strlen(name)) < 0 ? -1 : 0;
}

/* 0 when allowed (req filled); else the HTTP status, with the reason in *why. */
static unsigned check_upgrade(struct lws *wsi, const char *upgrade, live_ws_request_t *req,
                              char *principal, size_t plen, const char **why)
{
    char path[256], arg[LIVE_WS_ARG_MAX + 1], scopes[LIVE_IDENTITY_FIELD_MAX + 1];
    char when[32], sig[LIVE_IDENTITY_SIG_LEN + 2];
    int n, seen = 0;

    principal[0] = '\0';
    if (!upgrade || strcasecmp(upgrade, "websocket")) {
        *why = "unsupported upgrade";
        return 400;
    }
    if (S.draining) {
        *why = "draining";
        return 503;
    }
    n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    if (n <= 0) {
        *why = "not a GET or path too long";
        return 400;
    }
    switch (live_ws_parse_path(path, req->id)) {
    case 0: break;
    case LIVE_WS_PATH_UNKNOWN: *why = "unknown path"; return 404;
    default: *why = "invalid session id"; return 400;
    }
    if (custom_header(wsi, "x-profile-principal:", principal, (int)plen) < 0 ||
        custom_header(wsi, "x-profile-scopes:", scopes, sizeof(scopes)) < 0 ||
        custom_header(wsi, "x-profile-time:", when, sizeof(when)) < 0 ||
        custom_header(wsi, "x-profile-signature:", sig, sizeof(sig)) < 0) {
        *why = "missing identity headers";
        return 403;
    }
    if (!live_identity_verify(S.secret, S.secret_len, live_now_us() / 1000000, when,
                              principal, scopes, req->id, sig)) {
        *why = "invalid identity signature";
        return 403;
    }
    if (!live_identity_has_scope(scopes, "comments:read")) {
        *why = "scope comments:read missing";
        return 403;
    }
    req->since = -1;
    req->types = LIVE_EV_ALL_TYPES;
    for (int i = 0;; i++) {
        if (lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) < (int)sizeof(arg))
                break;                   /* no more arguments */
            *why = "query argument too long";
            return 400;
        }
        if (i >= LIVE_WS_ARGS_MAX) {
            *why = "too many query arguments";
            return 400;
        }
        if (live_ws_parse_arg(arg, req, &seen, why) < 0)
            return 400;
    }
    if (live_subs_clients() >= S.max_clients) {
        *why = "max_clients reached";
        return 503;
    }
    if (!live_subs_room(req->id)) {
        *why = "no room for another channel";
        return 503;
    }
    return 0;
}

/* The refusal of an upgrade, written as raw bytes: before the upgrade libwebsockets 4.1 has
 * not recorded the request's HTTP version and its header helpers would say HTTP/1.0, which
 * WebSocket clients reject instead of reporting the status. */
static int refuse(struct lws *wsi, unsigned code, const char *why)
{
    static const char *const reasons[] = {
        [400] = "Bad Request", [403] = "Forbidden", [404] = "Not Found",
        [503] = "Service Unavailable",
    };
    static const char *const errors[] = {
        [400] = "bad_request", [403] = "forbidden", [404] = "not_found",
        [503] = "service_unavailable",
    };
    unsigned char buf[LWS_PRE + 1024];
    char body[512];
    int blen, n;

    blen = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\",\"status\":%u}",
                    errors[code], why, code);
    n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
                 "HTTP/1.1 %u %s\r\nServer: profile-live\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\nCache-Control: no-store\r\n%s\r\n%s",
                 code, reasons[code], blen,
                 code == 503 ? "Retry-After: 1\r\nConnection: close\r\n" : "Connection: close\r\n",
                 body);
    if (blen < 0 || n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
        return -1;
    return lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) == n ? 0 : -1;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets it proceed; 1 after answering it ourselves. */
static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    char principal[LIVE_IDENTITY_FIELD_MAX + 1], peer[64] = "";
    live_ws_request_t req;
    const char *why = "refused";
    unsigned code;

    memset(&req, 0, sizeof(req));
    S.stash_wsi = NULL;
    code = check_upgrade(wsi, upgrade, &req, principal, sizeof(principal), &why);
    if (!code) {
        S.stash_wsi = wsi;
        S.stash = req;
        LIVE_DEBUG("ws upgrade: session %s principal %s since %lld types 0x%x", req.id,
                   principal, (long long)req.since, req.types);
        return 0;
    }
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    LIVE_INFO("ws upgrade refused %u (%s): session %s principal %s peer %s", code, why,
              req.id[0] ? req.id : "-", principal[0] ? principal : "-", peer[0] ? peer : "-");
    return refuse(wsi, code, why) < 0 ? -1 : 1;
}

/* ---- the protocol ------------------------------------------------------------------------ */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_request(wsi, (const char *)in);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, (const char *)in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return S.stash_wsi == wsi ? 0 : -1;
    case LWS_CALLBACK_ESTABLISHED:
        if (S.stash_wsi != wsi || !user)
            return -1;
        S.stash_wsi = NULL;
        live_sub_open(user, wsi, &S.stash, S.send_buffer);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return user ? live_sub_writable(user) : -1;
    case LWS_CALLBACK_CLOSED:
        if (user)
            live_sub_closed(user);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        live_subs_dispatch();
        return 0;
    default:
        return 0;                        /* what clients send is ignored */
    }
}

/* tx_packet_size bounds one send: subscribers batch whole frames up to it (subscriber.c).
 * No extensions (permessage-deflate) are ever enabled: those batches are raw frames. */
static const struct lws_protocols protocols[] = {
    { LIVE_WS_PROTOCOL, callback, sizeof(live_sub_t), 4096, 0, NULL, LIVE_EVENT_JSON_MAX * 2 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void tick(lws_sorted_usec_list_t *sul)
{
    live_subs_dispatch();
    live_subs_tick();
    if (S.ctx)
        lws_sul_schedule(S.ctx, 0, sul, tick, S.draining ? LIVE_WS_TICK_DRAIN_US : LIVE_WS_TICK_US);
}

static void lws_log_line(int level, const char *line)
{
    size_t n = strlen(line);

    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    live_log(level == LLL_ERR ? LIVE_LOG_WARN : LIVE_LOG_DEBUG, "libwebsockets: %.*s",
             (int)n, line);
}

static void apply_reloadable(const live_config_t *cfg)
{
    int ping = cfg->ping_interval_s > 0 ? cfg->ping_interval_s : 30;

    S.max_clients = cfg->max_clients > 0 ? cfg->max_clients : 1;
    S.send_buffer = cfg->client_send_buffer;
    S.retry.secs_since_valid_ping = (uint16_t)(ping > 30000 ? 30000 : ping);
    S.retry.secs_since_valid_hangup = (uint16_t)(2 * S.retry.secs_since_valid_ping);
    live_subs_reload(cfg);
}

int live_server_create(const live_config_t *cfg)
{
    struct lws_context_creation_info info;
    char iface[128];
    struct lws_context *ctx;

    memset(&S, 0, sizeof(S));
    if (cfg->secret_len < 32 || cfg->secret_len > sizeof(S.secret)) {
        LIVE_ERROR("websocket server: the shared secret is missing or too short");
        return -1;
    }
    memcpy(S.secret, cfg->secret, cfg->secret_len);
    S.secret_len = cfg->secret_len;
    snprintf(S.sidecar_id, sizeof(S.sidecar_id), "%s", cfg->sidecar_id);
    if (live_subs_init(cfg) < 0) {
        LIVE_ERROR("websocket server: out of memory");
        return -1;
    }
    apply_reloadable(cfg);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);

    memset(&info, 0, sizeof(info));
    info.protocols = protocols;
    info.vhost_name = "profile-live";
    info.server_string = "profile-live";
    info.max_http_header_data = 8192;
    info.timeout_secs = 10;
    info.timeout_secs_ah_idle = 10;
    info.keepalive_timeout = 5;
    info.retry_and_idle_policy = &S.retry;
    info.gid = info.uid = -1;
    if (cfg->listen_unix[0]) {
        struct stat st;
        /* A socket left by a previous run is removed; anything else is not ours. */
        if (lstat(cfg->listen_unix, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(cfg->listen_unix);
        info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
        snprintf(iface, sizeof(iface), "%s", cfg->listen_unix);
        info.iface = iface;
    } else {
        if (!live_ws_loopback(cfg->listen_host)) {
            LIVE_ERROR("websocket server: listen %s is not a loopback address", cfg->listen_host);
            live_subs_shutdown();
            return -1;
        }
        /* libwebsockets 4.1 binds an IPv6 socket to :: (every interface) when given an IPv4
         * literal: IPv4 listens use an IPv4-only context. */
        live_ws_strip_brackets(cfg->listen_host, iface, sizeof(iface));
        if (!strcmp(iface, "localhost"))
            snprintf(iface, sizeof(iface), "127.0.0.1");
        if (!strchr(iface, ':'))
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
        info.iface = iface;
        info.port = cfg->listen_port;
        info.ka_time = 60;               /* TCP keepalive: a vanished peer is dropped */
        info.ka_probes = 3;
        info.ka_interval = 10;
    }
    ctx = lws_create_context(&info);
    if (!ctx) {
        LIVE_ERROR("websocket server: cannot listen on %s%s%d", cfg->listen_unix[0] ?
                   cfg->listen_unix : cfg->listen_host, cfg->listen_unix[0] ? "" : ":",
                   cfg->listen_unix[0] ? 0 : cfg->listen_port);
        live_subs_shutdown();
        return -1;
    }
    __atomic_store_n(&S.ctx, ctx, __ATOMIC_RELEASE);
    lws_sul_schedule(ctx, 0, &S.tick, tick, LIVE_WS_TICK_US);
    if (cfg->listen_unix[0])
        LIVE_INFO("websocket server listening on unix:%s", cfg->listen_unix);
    else
        LIVE_INFO("websocket server listening on %s:%d", cfg->listen_host, cfg->listen_port);
    return 0;
}

void live_server_service(void)
{
    if (!S.ctx)
        return;
    live_subs_dispatch();
    lws_service(S.ctx, 0);
    live_subs_dispatch();
}

void live_server_wake(void)
{
    struct lws_context *ctx = __atomic_load_n(&S.ctx, __ATOMIC_ACQUIRE);

    if (ctx)
        lws_cancel_service(ctx);
}

void live_server_reload(const live_config_t *cfg)
{
    apply_reloadable(cfg);
}

void live_server_drain(void)
{
    if (S.draining)
        return;
    S.draining = 1;
    LIVE_INFO("websocket server draining: %d clients", live_subs_clients());
    live_subs_drain();
    if (S.ctx)
        lws_sul_schedule(S.ctx, 0, &S.tick, tick, LIVE_WS_TICK_DRAIN_US);
}

int live_server_clients(void)
{
    return live_subs_clients();
}

void live_server_destroy(void)
{
    struct lws_context *ctx = S.ctx;

    if (!ctx)
        return;
    __atomic_store_n(&S.ctx, NULL, __ATOMIC_RELEASE);
    lws_sul_cancel(&S.tick);
    lws_context_destroy(ctx);            /* closes the clients (LWS_CALLBACK_CLOSED) */
    live_subs_shutdown();
    memset(S.secret, 0, sizeof(S.secret));
}
