/* Hash tables whose values are malloc'd blocks that also hold their own keys (the per-process
 * caches). Pure APR. */
#ifndef PROFILE_MALLOC_HASH_H
#define PROFILE_MALLOC_HASH_H

#include <apr_hash.h>

/* Empties h, taking each entry out of the table before freeing its value, so the table never
 * reads a key from freed memory. */
void profile_hash_free_all(apr_hash_t *h);

#endif
