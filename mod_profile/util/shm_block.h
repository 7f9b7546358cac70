/* Blocks of anonymous shared memory made once per server lifetime: the segment belongs to
 * the process pool, so it outlives graceful restarts (the module is unloaded and reloaded,
 * that pool is not), and children inherit the mapping over fork. */
#ifndef PROFILE_SHM_BLOCK_H
#define PROFILE_SHM_BLOCK_H

#include "profile.h"

#define PROFILE_FNV1A_INIT 0xcbf29ce484222325ULL

/* Continues a 64-bit FNV-1a hash h (start with PROFILE_FNV1A_INIT) over len bytes. */
apr_uint64_t profile_fnv1a(apr_uint64_t h, const void *data, apr_size_t len);

/* post_config: *base = the block kept under key in s->process->pool, created on first use
 * and replaced by a fresh one (zero-filled) when its size differs from size. The caller
 * checks the block's own header to decide whether to format it. */
apr_status_t profile_shm_block(server_rec *s, const char *key, apr_size_t size, void **base);

#endif
