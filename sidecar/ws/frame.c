/* Committed events as the WebSocket loop holds them: one allocation per frame (header and
 * rendered JSON together), chained through next. */
#include <stdlib.h>
#include <string.h>

#include "ws/frame.h"

live_frame_t *live_frame_new(int64_t offset, live_event_type_t type, int final,
                             const char *json, size_t len)
{
    live_frame_t *f;

    if (len > (size_t)1 << 30)
        return NULL;
    f = malloc(sizeof(*f) + len + 1);
    if (!f)
        return NULL;
    f->next = NULL;
    f->offset = offset;
    f->type = type;
    f->final = final ? 1 : 0;
    f->len = len;
    if (len)
        memcpy(f->json, json, len);
    f->json[len] = '\0';
    return f;
}

void live_frame_free_chain(live_frame_t *f)
{
    while (f) {
        live_frame_t *next = f->next;
        free(f);
        f = next;
    }
}
