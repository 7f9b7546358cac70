/* The WebSocket loop's outstanding history requests: a small fixed table (see ws/requests.h).
 * Main thread only. */
#include <stdio.h>
#include <string.h>

#include "db/history.h"
#include "ws/requests.h"

typedef struct {
    uint64_t id;                         /* 0: free */
    void *owner;
    int for_channel;
} live_req_slot_t;

static live_req_slot_t slots[LIVE_WS_HISTORY_MAX];
static int used;
static uint64_t last_id;

static live_req_slot_t *find(uint64_t id)
{
    for (int i = 0; id && i < LIVE_WS_HISTORY_MAX; i++)
        if (slots[i].id == id)
            return &slots[i];
    return NULL;
}

int live_req_submit(const char *session_id, int64_t after, int limit, int for_channel,
                    void *owner, uint64_t *id)
{
    live_history_request_t req;
    live_req_slot_t *slot;

    if (used >= LIVE_WS_HISTORY_MAX - (for_channel ? 0 : LIVE_WS_HISTORY_CHANNEL))
        return -1;
    slot = NULL;
    for (int i = 0; i < LIVE_WS_HISTORY_MAX && !slot; i++)
        if (!slots[i].id)
            slot = &slots[i];
    if (!slot)
        return -1;
    memset(&req, 0, sizeof(req));
    req.request_id = ++last_id;
    snprintf(req.session_id, sizeof(req.session_id), "%s", session_id);
    req.after = after;
    req.limit = limit > 0 ? limit : 1;
    if (live_history_submit(&req) < 0)
        return -1;
    slot->id = req.request_id;
    slot->owner = owner;
    slot->for_channel = for_channel;
    used++;
    *id = req.request_id;
    return 0;
}

int live_req_take(uint64_t id, void **owner, int *for_channel)
{
    live_req_slot_t *slot = find(id);

    if (!slot)
        return 0;
    *owner = slot->owner;
    *for_channel = slot->for_channel;
    memset(slot, 0, sizeof(*slot));
    used--;
    return 1;
}

void live_req_forget(uint64_t id)
{
    live_req_slot_t *slot = find(id);

    if (slot)
        slot->owner = NULL;
}

int live_req_count(void)
{
    return used;
}

void live_req_reset(void)
{
    memset(slots, 0, sizeof(slots));
    used = 0;
}
