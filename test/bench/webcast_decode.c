/* webcast_decode: the decoder-only half of the TikTok bench (test/bench/run tiktok).
 *
 *   webcast_decode [-d SECONDS | -n PASSES] [-r] FILE
 *
 * FILE holds push frames as the fake records them (test/fakes/tiktok_live.py --record): each
 * one a 4-byte big-endian length followed by that many bytes of WebcastPushFrame. The whole
 * file is read into memory first, then one untimed pass checks it (and warms the caches), then
 * the frames are decoded again and again, for SECONDS (default 5; checked every 64 frames) or
 * for PASSES whole passes, the way the tiktok source decodes what it receives:
 *   live_push_frame_decode → live_gunzip when gzip → live_fetch_result_decode →
 *   live_webcast_decode per message → live_event_free / live_fetch_result_free / free.
 * Frames whose payload_type is not "msg" are decoded as push frames only (the source ignores
 * them too). With -r every event is also rendered to its streamed JSON (live_event_render), as
 * the sidecar does once per event.
 * At the end one JSON line goes to stdout:
 *   {"file_frames":2000,"file_bytes":…,"passes":…,"frames":…,"gzip_frames":…,"messages":…,
 *    "events":…,"ignored":…,"unknown":…,"malformed":…,"ends":…,"bad_frames":…,
 *    "seconds":…,"frames_per_s":…,"events_per_s":…,"messages_per_s":…,"bytes_per_s":…}
 * frames, messages, events and the kinds count the timed passes only; bytes are the frames'
 * bytes as received (before gunzip). bad_frames: frames that are not push frames, gzip that
 * does not inflate, payloads that are not fetch results (none in a good recording).
 * Exit status: 0; 1 on bad usage, an unreadable file, or a file whose first pass gives no
 * event. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events/event.h"
#include "tiktok/webcast.h"

#define MAX_FILE  (1024ul << 20)         /* 1 GiB of recorded frames at most */
#define MAX_FRAMES 10000000ul

typedef struct {
    const uint8_t *p;
    size_t len;
} frame_t;

typedef struct {
    uint64_t frames, gzip_frames, messages, events, ignored, unknown, malformed, ends, bad,
             bytes;
} counts_t;

static int render;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: webcast_decode [-d SECONDS | -n PASSES] [-r] FILE\n");
    exit(1);
}

/* Reads the whole file (at most MAX_FILE bytes) into a malloc'd buffer. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        fprintf(stderr, "webcast_decode: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t r;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : (1u << 20);
            uint8_t *nb;
            if (cap >= MAX_FILE) {
                fprintf(stderr, "webcast_decode: %s: larger than %lu bytes\n", path, MAX_FILE);
                goto fail;
            }
            if (ncap > MAX_FILE)
                ncap = MAX_FILE;
            nb = realloc(buf, ncap);
            if (!nb) {
                fprintf(stderr, "webcast_decode: out of memory\n");
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(stderr, "webcast_decode: %s: read error\n", path);
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* Splits buf into frames (length-prefixed, big-endian). -1 when the file is not well formed. */
static int split(const uint8_t *buf, size_t len, frame_t **out, size_t *n_out)
{
    size_t off = 0, n = 0, cap = 0;
    frame_t *v = NULL;

    while (off < len) {
        uint32_t flen;
        if (len - off < 4) {
            fprintf(stderr, "webcast_decode: truncated length at byte %zu\n", off);
            goto fail;
        }
        flen = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
               (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        off += 4;
        if (flen > LIVE_WEBCAST_MAX_FRAME || flen > len - off) {
            fprintf(stderr, "webcast_decode: frame %zu: bad length %" PRIu32 "\n", n, flen);
            goto fail;
        }
        if (n == cap) {
            frame_t *nv;
            if (n >= MAX_FRAMES) {
                fprintf(stderr, "webcast_decode: more than %lu frames\n", MAX_FRAMES);
                goto fail;
            }
            cap = cap ? cap * 2 : 1024;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                fprintf(stderr, "webcast_decode: out of memory\n");
                goto fail;
            }
            v = nv;
        }
        v[n].p = buf + off;
        v[n].len = flen;
        n++;
        off += flen;
    }
    *out = v;
    *n_out = n;
    return 0;
fail:
    free(v);
    return -1;
}

/* One frame, as the tiktok source handles a received one. */
static void decode_frame(const frame_t *fr, counts_t *c)
{
    live_push_frame_t pf;
    live_fetch_result_t res;
    uint8_t *inflated = NULL;
    const uint8_t *body;
    size_t body_len;
    int i;

    c->frames++;
    c->bytes += fr->len;
    if (live_push_frame_decode(fr->p, fr->len, &pf) != 0) {
        c->bad++;
        return;
    }
    if (strcmp(pf.payload_type, "msg") != 0)
        return;
    body = pf.payload;
    body_len = pf.payload_len;
    if (pf.gzip) {
        c->gzip_frames++;
        if (live_gunzip(pf.payload, pf.payload_len, LIVE_WEBCAST_MAX_INFLATED, &inflated,
                        &body_len) != 0) {
            c->bad++;
            return;
        }
        body = inflated;
    }
    memset(&res, 0, sizeof(res));
    if (live_fetch_result_decode(body, body_len, &res) != 0) {
        c->bad++;
        live_fetch_result_free(&res);
        free(inflated);
        return;
    }
    for (i = 0; i < res.n_messages; i++) {
        live_event_t *ev = NULL;
        int action = 0;
        live_wc_kind_t k = live_webcast_decode(&res.messages[i], &ev, &action);

        c->messages++;
        switch (k) {
        case LIVE_WC_EVENT:     c->events++; break;
        case LIVE_WC_END:       c->ends++; break;
        case LIVE_WC_IGNORED:   c->ignored++; break;
        case LIVE_WC_UNKNOWN:   c->unknown++; break;
        case LIVE_WC_MALFORMED: c->malformed++; break;
        }
        if (ev && render) {
            size_t jlen;
            char *json = live_event_render(ev, "bench", (int64_t)c->events, &jlen);
            free(json);
        }
        if (ev)
            live_event_free(ev);
    }
    live_fetch_result_free(&res);
    free(inflated);
}

int main(int argc, char **argv)
{
    double duration = 5, t0, t1, secs;
    long passes = 0, done = 0;
    int opt;
    uint8_t *buf;
    size_t len, n_frames, i;
    frame_t *frames;
    counts_t check = {0}, c = {0};

    while ((opt = getopt(argc, argv, "d:n:r")) != -1) {
        char *end;
        switch (opt) {
        case 'd':
            duration = strtod(optarg, &end);
            if (*end || !(duration > 0 && duration <= 3600))
                usage();
            break;
        case 'n':
            passes = strtol(optarg, &end, 10);
            if (*end || passes < 1 || passes > 1000000)
                usage();
            break;
        case 'r':
            render = 1;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1)
        usage();
    buf = read_file(argv[optind], &len);
    if (!buf)
        return 1;
    if (split(buf, len, &frames, &n_frames) != 0) {
        free(buf);
        return 1;
    }
    if (n_frames == 0) {
        fprintf(stderr, "webcast_decode: %s holds no frame\n", argv[optind]);
        free(buf);
        return 1;
    }

    /* The check pass: untimed; a recording that yields no event measures nothing. */
    for (i = 0; i < n_frames; i++)
        decode_frame(&frames[i], &check);
    if (check.events == 0) {
        fprintf(stderr, "webcast_decode: no event in %zu frames (%" PRIu64 " messages, %" PRIu64
                " bad frames, %" PRIu64 " malformed, %" PRIu64 " unknown)\n", n_frames,
                check.messages, check.bad, check.malformed, check.unknown);
        free(frames);
        free(buf);
        return 1;
    }

    t0 = now_s();
    t1 = t0;
    for (;;) {
        for (i = 0; i < n_frames; i++) {
            decode_frame(&frames[i], &c);
            if (!passes && (i & 63) == 63 && (t1 = now_s()) - t0 >= duration)
                goto out;
        }
        done++;
        t1 = now_s();
        if (passes ? done >= passes : t1 - t0 >= duration)
            break;
    }
out:
    secs = t1 - t0;
    if (secs <= 0)
        secs = 1e-9;
    printf("{\"file_frames\":%zu,\"file_bytes\":%zu,\"passes\":%.2f,\"frames\":%" PRIu64
           ",\"gzip_frames\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"events\":%" PRIu64
           ",\"ignored\":%" PRIu64 ",\"unknown\":%" PRIu64 ",\"malformed\":%" PRIu64
           ",\"ends\":%" PRIu64 ",\"bad_frames\":%" PRIu64 ",\"render\":%s,\"seconds\":%.3f"
           ",\"frames_per_s\":%.0f,\"events_per_s\":%.0f,\"messages_per_s\":%.0f"
           ",\"bytes_per_s\":%.0f}\n",
           n_frames, len, (double)c.frames / (double)n_frames, c.frames, c.gzip_frames,
           c.messages, c.events, c.ignored, c.unknown, c.malformed, c.ends, c.bad,
           render ? "true" : "false", secs, (double)c.frames / secs, (double)c.events / secs,
           (double)c.messages / secs, (double)c.bytes / secs);
    free(frames);
    free(buf);
    return 0;
}
