/* See malloc_hash.h. */
#include <stdlib.h>

#include "util/malloc_hash.h"

void profile_hash_free_all(apr_hash_t *h)
{
    apr_hash_index_t *hi;
    /* APR allows removing the current entry while iterating. */
    for (hi = apr_hash_first(NULL, h); hi; hi = apr_hash_next(hi)) {
        const void *key;
        apr_ssize_t klen;
        void *val;
        apr_hash_this(hi, &key, &klen, &val);
        apr_hash_set(h, key, klen, NULL);
        free(val);
    }
}
