/* The capture-source interface. A source runs on its own thread, produces events through its
 * sink and reports its state; the session owns it. Sources: "replay" (source/replay.c) and
 * "tiktok" (tiktok/tiktok_source.c). */
#ifndef LIVE_SOURCE_H
#define LIVE_SOURCE_H

#include <stdint.h>
#include <jansson.h>

#include "core/config.h"
#include "events/event.h"

typedef enum {
    LIVE_SOURCE_CONNECTING,  /* starting (room lookup, sign, dial …) */
    LIVE_SOURCE_LIVE,        /* events flow */
    LIVE_SOURCE_ENDED,       /* the stream ended (recording done, host ended the live) */
    LIVE_SOURCE_FAILED       /* cannot go on: reason says why */
} live_source_state_t;

typedef struct {
    /* Hands ev over (always taken). position is where the source stands after ev (replay:
     * lines consumed) and is saved with ev's batch, so a new owner restarts from there.
     * Blocks while the session's inbox is full. Returns 0, or -1 when the session is stopping:
     * the source should then return from its thread. */
    int  (*emit)(void *ctx, live_event_t *ev, int64_t position);
    /* The same for a live source, which cannot pause its upstream: never blocks; when the
     * inbox is full ev is dropped (counted, logged) and 1 is returned. */
    int  (*emit_nowait)(void *ctx, live_event_t *ev, int64_t position);
    /* A state change. reason: a short code ([a-z_]+, e.g. "recording_not_found") for FAILED
     * and optionally ENDED; detail: a sentence for the operator. Both may be NULL. */
    void (*state)(void *ctx, live_source_state_t state, const char *reason, const char *detail);
    void *ctx;
} live_source_sink_t;

typedef struct live_source live_source_t;   /* a source's private state */

typedef struct {
    const char *name;
    /* Starts the source's thread. position: where a previous owner stopped (0 at first).
     * options: the session's options object (borrowed during the call). NULL with err when
     * the options are unusable (the session then fails with reason "invalid_options"). */
    live_source_t *(*start)(const live_config_t *cfg, const char *session_id,
                            const char *username, json_t *options, int64_t position,
                            const live_source_sink_t *sink, char *err, size_t errlen);
    /* Asks the thread to finish, joins it (bounded: sources never sleep or block for long
     * without checking) and frees the source. Called exactly once per started source. */
    void (*stop)(live_source_t *src);
} live_source_ops_t;

/* NULL when no source has that name. */
const live_source_ops_t *live_source_find(const char *name);

extern const live_source_ops_t live_source_replay;
extern const live_source_ops_t live_source_tiktok;   /* tiktok/tiktok_source.c */

#endif
