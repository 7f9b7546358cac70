/* The capture sources this sidecar knows, by the name /connect stores in live_sessions.source. */
#include <string.h>

#include "source/source.h"

const live_source_ops_t *live_source_find(const char *name)
{
    static const live_source_ops_t *const sources[] = { &live_source_replay,
                                                       &live_source_tiktok };

    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
        if (strcmp(sources[i]->name, name) == 0)
            return sources[i];
    return NULL;
}
