/* A committed event as the WebSocket loop holds it: its rendered JSON text frame. */
#ifndef LIVE_FRAME_H
#define LIVE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "events/event.h"

typedef struct live_frame {
    struct live_frame *next;
    int64_t offset;              /* > 0 */
    live_event_type_t type;
    int final;                   /* the session's final status event: close after it */
    size_t len;                  /* of json, without the NUL */
    char json[];                 /* NUL terminated */
} live_frame_t;

/* Copies json. NULL on OOM. */
live_frame_t *live_frame_new(int64_t offset, live_event_type_t type, int final,
                             const char *json, size_t len);
void live_frame_free_chain(live_frame_t *f);

#endif
