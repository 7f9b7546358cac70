/* The "tiktok" capture source (docs/tiktok-capture.md). Its thread runs one attempt after
 * another: room lookup (upstream.c) → when not live, either wait (options
 * {"wait_until_live": true}, a lookup every tiktok_live_poll seconds) or fail not_live → the
 * sign server's first fetch (a 429 waits its Retry-After and counts as a failed attempt) →
 * the fetch result's messages (history) → LIVE → the push WebSocket (push.c) until it ends.
 * A drop or a network failure backs off (jittered doubling from tiktok_backoff_min_ms to
 * tiktok_backoff_max_ms) and redoes lookup + sign + fetch, never redialling an old URL;
 * tiktok_reconnect_attempts unsuccessful attempts in a row fail the session with the last
 * reason, a healthy connection resets the count. Final reasons (user_not_found,
 * age_restricted, sign_server_unauthorized, upstream_changed, and blocked until a push
 * connection has worked once) fail at once. Events are de-duplicated by upstream id over the
 * whole session (the last 8192 ids) and handed over with emit_nowait (the socket is never
 * held up). A Control end (or the room going offline after a drop) ends the session
 * "stream_ended"; tiktok_malformed_limit malformed messages in a row fail it
 * "upstream_changed". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "source/source.h"
#include "tiktok/dedup.h"
#include "tiktok/push.h"
#include "tiktok/upstream.h"
#include "tiktok/webcast.h"

#define TT_DEDUP_IDS        8192
#define TT_SLICE_US         100000             /* longest sleep without checking stop */
#define TT_RETRY_AFTER_MAX  600                /* s: longest wait a 429 can ask for */
#define TT_LIVE_POLL_MIN    30                 /* s */
#define TT_UNKNOWN_METHODS  64                 /* distinct unknown methods logged (once each) */
#define TT_MALFORMED_LOGGED 5                  /* malformed messages logged one by one … */
#define TT_MALFORMED_EVERY  (30LL * 1000000)   /* … then summed at most this often (µs) */
#define TT_DETAIL_MAX       512

struct live_source {
    char session_id[65];
    char username[65];
    live_config_t cfg;
    int wait_until_live;
    live_source_sink_t sink;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;              /* CLOCK_MONOTONIC; signalled by stop */
    volatile int stop;                /* written under lock, read by push.c's loop too */
    live_dedup_t *dedup;
    /* the thread's own */
    int ever_live, ever_connected, ended, changed, sink_gone;
    uint64_t messages, events, dups, unknown, malformed, malformed_run;
    uint64_t malformed_reported;
    int64_t malformed_logged_at;
    char unknown_methods[TT_UNKNOWN_METHODS][64];
    int n_unknown_methods;
};

typedef enum { OUT_STOP, OUT_END, OUT_FAIL, OUT_RETRY, OUT_NOT_LIVE } outcome_t;

static int stopped(live_source_t *src)
{
    return __atomic_load_n(&src->stop, __ATOMIC_ACQUIRE) || src->sink_gone;
}

/* Sleeps ms (woken at once by stop). 1 when stopped. */
static int wait_ms(live_source_t *src, int64_t ms)
{
    int s;

    pthread_mutex_lock(&src->lock);
    s = live_cond_wait_until(&src->cond, &src->lock, &src->stop, live_mono_us() + ms * 1000,
                             TT_SLICE_US);
    pthread_mutex_unlock(&src->lock);
    return s || src->sink_gone;
}

static void report(live_source_t *src, live_source_state_t st, const char *reason,
                   const char *detail)
{
    src->sink.state(src->sink.ctx, st, reason, detail && detail[0] ? detail : NULL);
}

/* ---- messages ----------------------------------------------------------------------------- */

static void log_unknown(live_source_t *src, const char *method)
{
    for (int i = 0; i < src->n_unknown_methods; i++)
        if (strcmp(src->unknown_methods[i], method) == 0)
            return;
    if (src->n_unknown_methods >= TT_UNKNOWN_METHODS)
        return;
    snprintf(src->unknown_methods[src->n_unknown_methods++], sizeof(src->unknown_methods[0]),
             "%s", method);
    LIVE_INFO("tiktok %s: skipping messages of unknown method %.63s", src->session_id, method);
}

static void log_malformed(live_source_t *src, const char *method)
{
    int64_t now = live_mono_us();

    if (src->malformed <= TT_MALFORMED_LOGGED) {
        LIVE_WARN("tiktok %s: malformed %.63s message skipped", src->session_id, method);
        src->malformed_reported = src->malformed;
        src->malformed_logged_at = now;
    } else if (now - src->malformed_logged_at >= TT_MALFORMED_EVERY) {
        LIVE_WARN("tiktok %s: %llu more malformed messages skipped (last: %.63s)",
                  src->session_id,
                  (unsigned long long)(src->malformed - src->malformed_reported), method);
        src->malformed_reported = src->malformed;
        src->malformed_logged_at = now;
    }
}

/* One upstream message (history or pushed). Non-zero ends the connection. */
static int on_message(void *ctx, const live_webcast_msg_t *m)
{
    live_source_t *src = ctx;
    live_event_t *ev = NULL;
    int action = 0, limit = src->cfg.tiktok_malformed_limit > 0 ?
                            src->cfg.tiktok_malformed_limit : 50;

    src->messages++;
    switch (live_webcast_decode(m, &ev, &action)) {
    case LIVE_WC_EVENT: {
        uint64_t key;
        src->malformed_run = 0;
        if (!ev)
            return 0;
        key = ev->upstream_id[0] ? live_dedup_key(ev->upstream_id) : (uint64_t)m->msg_id;
        if ((ev->upstream_id[0] || m->msg_id) && live_dedup_seen(src->dedup, key)) {
            src->dups++;
            live_event_free(ev);
            return 0;
        }
        if (src->sink.emit_nowait(src->sink.ctx, ev, 0) < 0) {
            src->sink_gone = 1;
            return 1;
        }
        src->events++;
        return 0;
    }
    case LIVE_WC_END:
        live_event_free(ev);
        LIVE_INFO("tiktok %s: the host ended the stream (control action %d)", src->session_id,
                  action);
        src->ended = 1;
        return 1;
    case LIVE_WC_IGNORED:
        live_event_free(ev);
        src->malformed_run = 0;
        return 0;
    case LIVE_WC_UNKNOWN:
        live_event_free(ev);
        src->unknown++;
        log_unknown(src, m->method);
        return 0;
    case LIVE_WC_MALFORMED:
        live_event_free(ev);
        src->malformed++;
        src->malformed_run++;
        log_malformed(src, m->method);
        if (src->malformed_run >= (uint64_t)limit) {
            src->changed = 1;
            return 1;
        }
        return 0;
    }
    live_event_free(ev);
    return 0;
}

/* ---- one attempt: lookup → sign/fetch → history → push ---------------------------------- */

/* What a failed upstream call means for the session. */
static outcome_t classify(live_source_t *src, live_tt_status_t st)
{
    switch (st) {
    case LIVE_TT_OK:
    case LIVE_TT_NETWORK:
    case LIVE_TT_SIGN_RATE_LIMITED:
        return OUT_RETRY;
    case LIVE_TT_NOT_LIVE:
        return OUT_NOT_LIVE;
    case LIVE_TT_BLOCKED:            /* captchas and rejections come and go once we were in */
        return src->ever_connected ? OUT_RETRY : OUT_FAIL;
    default:
        return OUT_FAIL;
    }
}

static outcome_t malformed_failure(live_source_t *src, live_tt_status_t *st, char *detail)
{
    *st = LIVE_TT_UPSTREAM_CHANGED;
    snprintf(detail, TT_DETAIL_MAX,
             "%llu malformed messages in a row: TikTok's message format may have changed",
             (unsigned long long)src->malformed_run);
    return OUT_FAIL;
}

static outcome_t attempt(live_source_t *src, live_tt_status_t *st, char *detail,
                         int *healthy, int *retry_after_s)
{
    live_room_t room;
    live_sign_result_t sr;
    live_fetch_result_t fr;
    live_push_handler_t handler = { on_message, src };
    live_push_params_t pp;
    outcome_t out = OUT_RETRY;
    uint64_t seen_before;
    int64_t t0, hb_ms;
    char *url = NULL;

    *healthy = 0;
    *retry_after_s = 0;
    memset(&room, 0, sizeof(room));
    memset(&sr, 0, sizeof(sr));
    memset(&fr, 0, sizeof(fr));

    *st = live_room_lookup(&src->cfg, src->username, &room, &src->stop, detail, TT_DETAIL_MAX);
    if (stopped(src))
        return OUT_STOP;
    if (*st != LIVE_TT_OK)
        return classify(src, *st);
    if (!room.room_id[0] || room.status == 4) {
        *st = LIVE_TT_NOT_LIVE;
        snprintf(detail, TT_DETAIL_MAX, "@%s is not live", src->username);
        return OUT_NOT_LIVE;
    }

    *st = live_sign_fetch(&src->cfg, room.room_id, &sr, &src->stop, detail, TT_DETAIL_MAX);
    if (stopped(src)) {
        out = OUT_STOP;
        goto done;
    }
    if (*st != LIVE_TT_OK) {
        if (*st == LIVE_TT_SIGN_RATE_LIMITED)
            *retry_after_s = sr.retry_after_s;
        out = classify(src, *st);
        goto done;
    }
    if (live_fetch_result_decode(sr.fetch, sr.fetch_len, &fr) != 0) {
        *st = LIVE_TT_UPSTREAM_CHANGED;
        snprintf(detail, TT_DETAIL_MAX, "the sign server's fetch result does not decode");
        out = OUT_FAIL;
        goto done;
    }

    /* The first fetch's messages (what happened just before we joined). */
    for (int i = 0; i < fr.n_messages; i++)
        if (on_message(src, &fr.messages[i]))
            break;
    if (src->sink_gone || stopped(src)) {
        out = OUT_STOP;
        goto done;
    }
    if (src->ended) {
        out = OUT_END;
        goto done;
    }
    if (src->changed) {
        out = malformed_failure(src, st, detail);
        goto done;
    }
    url = live_push_url(&src->cfg, &fr, room.room_id);
    if (!url) {
        *st = LIVE_TT_UPSTREAM_CHANGED;
        snprintf(detail, TT_DETAIL_MAX, "the fetch result has no usable push server");
        out = OUT_FAIL;
        goto done;
    }

    LIVE_INFO("tiktok %s: @%s is live in room %s: %d messages fetched, connecting to the push "
              "server", src->session_id, src->username, room.room_id, fr.n_messages);
    report(src, LIVE_SOURCE_LIVE, NULL, NULL);
    src->ever_live = 1;

    hb_ms = fr.heartbeat_ms > 0 ? fr.heartbeat_ms
                                : (int64_t)(src->cfg.tiktok_heartbeat_s > 0 ?
                                            src->cfg.tiktok_heartbeat_s : 10) * 1000;
    hb_ms = hb_ms < 500 ? 500 : hb_ms > 120000 ? 120000 : hb_ms;   /* as push.c does */
    pp = (live_push_params_t){ .url = url, .cookie = sr.cookie, .room_id = room.room_id,
                               .heartbeat_ms = hb_ms, .internal_ext = fr.internal_ext,
                               .internal_ext_len = fr.internal_ext_len,
                               .need_ack = fr.need_ack };
    seen_before = src->messages;
    t0 = live_mono_us();
    *st = live_push_run(&src->cfg, &pp, &handler, &src->stop, detail, TT_DETAIL_MAX);
    /* Healthy (resets the failure count): messages came in over the socket, or it stayed up
     * well beyond an idle timeout. */
    *healthy = src->messages > seen_before ||
               live_mono_us() - t0 >= (hb_ms * 6 > 60000 ? hb_ms * 6 : 60000) * 1000;
    if (*healthy)
        src->ever_connected = 1;
    if (src->sink_gone || stopped(src))
        out = OUT_STOP;
    else if (src->ended)
        out = OUT_END;
    else if (src->changed) {
        out = malformed_failure(src, st, detail);
    } else if (*st == LIVE_TT_OK) {   /* ended without a reason we know: treat as a drop */
        *st = LIVE_TT_NETWORK;
        snprintf(detail, TT_DETAIL_MAX, "the push connection ended");
        out = OUT_RETRY;
    } else {
        out = classify(src, *st);
    }

done:
    free(url);
    live_fetch_result_free(&fr);
    live_sign_result_free(&sr);
    return out;
}

/* The pause before attempt number failures + 1: min · 2^(failures-1) capped at max, then a
 * random point in its upper half. */
static int64_t backoff_ms(const live_config_t *cfg, int failures)
{
    int64_t lo = cfg->tiktok_backoff_min_ms > 0 ? cfg->tiktok_backoff_min_ms : 1000;
    int64_t hi = cfg->tiktok_backoff_max_ms >= lo ? cfg->tiktok_backoff_max_ms : lo;
    int64_t d = lo;
    uint32_t r = 0;

    for (int i = 1; i < failures && d < hi; i++)
        d *= 2;
    if (d > hi)
        d = hi;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)live_mono_us();
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

static void *tiktok_thread(void *arg)
{
    live_source_t *src = arg;
    char detail[TT_DETAIL_MAX], note[TT_DETAIL_MAX + 96];
    int failures = 0, max_failures = src->cfg.tiktok_reconnect_attempts > 0 ?
                                     src->cfg.tiktok_reconnect_attempts : 1;
    int poll_s = src->cfg.tiktok_live_poll_s >= TT_LIVE_POLL_MIN ? src->cfg.tiktok_live_poll_s
                                                                 : TT_LIVE_POLL_MIN;
    int waiting_logged = 0;

    LIVE_INFO("tiktok %s: capturing @%s%s", src->session_id, src->username,
              src->wait_until_live ? " (waiting until live)" : "");
    for (;;) {
        live_tt_status_t st = LIVE_TT_NETWORK;
        int healthy = 0, retry_after_s = 0;
        int64_t pause_ms;
        outcome_t out;

        detail[0] = '\0';
        out = attempt(src, &st, detail, &healthy, &retry_after_s);
        switch (out) {
        case OUT_STOP:
            goto out;
        case OUT_END:
            LIVE_INFO("tiktok %s: stream ended", src->session_id);
            report(src, LIVE_SOURCE_ENDED, "stream_ended", "the host ended the LIVE");
            goto out;
        case OUT_FAIL:
            LIVE_WARN("tiktok %s: failed: %s: %s", src->session_id, live_tt_reason(st), detail);
            report(src, LIVE_SOURCE_FAILED, live_tt_reason(st), detail);
            goto out;
        case OUT_NOT_LIVE:
            if (src->ever_live) {     /* dropped, and the room is offline now */
                LIVE_INFO("tiktok %s: @%s is no longer live: stream ended", src->session_id,
                          src->username);
                report(src, LIVE_SOURCE_ENDED, "stream_ended", "the room went offline");
                goto out;
            }
            if (!src->wait_until_live) {
                LIVE_INFO("tiktok %s: @%s is not live", src->session_id, src->username);
                report(src, LIVE_SOURCE_FAILED, "not_live", detail);
                goto out;
            }
            failures = 0;
            if (!waiting_logged) {
                LIVE_INFO("tiktok %s: @%s is not live: checking again every %d s",
                          src->session_id, src->username, poll_s);
                snprintf(note, sizeof(note), "waiting for @%s to go live (checked every %d s)",
                         src->username, poll_s);
                report(src, LIVE_SOURCE_CONNECTING, "not_live", note);
                waiting_logged = 1;
            }
            if (wait_ms(src, (int64_t)poll_s * 1000))
                goto out;
            continue;
        case OUT_RETRY:
            break;
        }
        waiting_logged = 0;
        if (healthy)
            failures = 0;
        else
            failures++;
        if (failures >= max_failures) {
            LIVE_WARN("tiktok %s: failed after %d attempts in a row: %s: %s", src->session_id,
                      failures, live_tt_reason(st), detail);
            snprintf(note, sizeof(note), "%s (gave up after %d failed attempt%s in a row)",
                     detail[0] ? detail : live_tt_reason(st), failures, failures == 1 ? "" : "s");
            report(src, LIVE_SOURCE_FAILED, live_tt_reason(st), note);
            goto out;
        }
        if (st == LIVE_TT_SIGN_RATE_LIMITED)
            pause_ms = (int64_t)(retry_after_s < 1 ? 60 : retry_after_s > TT_RETRY_AFTER_MAX ?
                                 TT_RETRY_AFTER_MAX : retry_after_s) * 1000;
        else
            pause_ms = backoff_ms(&src->cfg, failures);
        LIVE_INFO("tiktok %s: %s (%s); next attempt in %lld ms (%d of %d failed in a row)",
                  src->session_id, live_tt_reason(st), detail, (long long)pause_ms, failures,
                  max_failures);
        {
            size_t n = strlen(detail);
            while (n > 0 && (detail[n - 1] == '.' || detail[n - 1] == ' '))
                detail[--n] = '\0';
        }
        if (st == LIVE_TT_SIGN_RATE_LIMITED && detail[0])   /* it says when already */
            snprintf(note, sizeof(note), "%s", detail);
        else
            snprintf(note, sizeof(note), "%s; next attempt in %lld s", detail[0] ? detail :
                     live_tt_reason(st), (long long)((pause_ms + 999) / 1000));
        report(src, LIVE_SOURCE_CONNECTING, live_tt_reason(st), note);
        if (wait_ms(src, pause_ms))
            goto out;
    }
out:
    LIVE_INFO("tiktok %s: capture finished: %llu events, %llu duplicates skipped, %llu unknown "
              "and %llu malformed messages", src->session_id, (unsigned long long)src->events,
              (unsigned long long)src->dups, (unsigned long long)src->unknown,
              (unsigned long long)src->malformed);
    return NULL;
}

/* ---- start / stop ------------------------------------------------------------------------ */

/* Options: {"wait_until_live": bool}; the replay source's keys are accepted and ignored. */
static int read_options(live_source_t *src, json_t *options, char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    if (options && !json_is_null(options) && !json_is_object(options)) {
        snprintf(err, errlen, "options must be an object");
        return -1;
    }
    json_object_foreach(options, key, v) {
        if (strcmp(key, "wait_until_live") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "wait_until_live must be true or false");
                return -1;
            }
            src->wait_until_live = json_is_true(v);
        } else if (strcmp(key, "speed") && strcmp(key, "loop") && strcmp(key, "recording")) {
            snprintf(err, errlen, "unknown tiktok option \"%.64s\"", key);
            return -1;
        }
    }
    return 0;
}

static live_source_t *tiktok_start(const live_config_t *cfg, const char *session_id,
                                   const char *username, json_t *options, int64_t position,
                                   const live_source_sink_t *sink, char *err, size_t errlen)
{
    live_source_t *src;

    (void)position;                   /* a live stream has no position to resume from */
    if (!username || !username[0] || strlen(username) >= sizeof(src->username)) {
        snprintf(err, errlen, "a tiktok session needs a username");
        return NULL;
    }
    src = calloc(1, sizeof(*src));
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(src->session_id, sizeof(src->session_id), "%s", session_id);
    snprintf(src->username, sizeof(src->username), "%s", username[0] == '@' ? username + 1
                                                                              : username);
    src->cfg = *cfg;
    src->sink = *sink;
    if (read_options(src, options, err, errlen) != 0) {
        free(src);
        return NULL;
    }
    src->dedup = live_dedup_new(TT_DEDUP_IDS);
    if (!src->dedup) {
        snprintf(err, errlen, "out of memory");
        free(src);
        return NULL;
    }
    pthread_mutex_init(&src->lock, NULL);
    live_cond_init_monotonic(&src->cond);
    if (pthread_create(&src->thread, NULL, tiktok_thread, src) != 0) {
        snprintf(err, errlen, "cannot start the tiktok thread");
        pthread_cond_destroy(&src->cond);
        pthread_mutex_destroy(&src->lock);
        live_dedup_free(src->dedup);
        free(src);
        return NULL;
    }
    pthread_setname_np(src->thread, "live-tiktok");
    return src;
}

static void tiktok_stop(live_source_t *src)
{
    if (!src)
        return;
    pthread_mutex_lock(&src->lock);
    __atomic_store_n(&src->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&src->cond);
    pthread_mutex_unlock(&src->lock);
    pthread_join(src->thread, NULL);
    pthread_cond_destroy(&src->cond);
    pthread_mutex_destroy(&src->lock);
    live_dedup_free(src->dedup);
    memset(&src->cfg.sign_api_key, 0, sizeof(src->cfg.sign_api_key));
    free(src);
}

const live_source_ops_t live_source_tiktok = {
    .name = "tiktok",
    .start = tiktok_start,
    .stop = tiktok_stop,
};
