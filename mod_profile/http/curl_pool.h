/* A per-process stack of reusable libcurl easy handles. A reused handle keeps its connection
 * cache (keep-alive, TLS session ids) and DNS cache, so a fetch after the first usually skips
 * the TCP and TLS handshakes. Handles are reset when given back, so none carries an option
 * (or a pointer into a freed pool) of the fetch before. Made in child_init: nothing of libcurl
 * crosses a fork. */
#ifndef PROFILE_CURL_POOL_H
#define PROFILE_CURL_POOL_H

#include <apr_pools.h>
#include <curl/curl.h>

#define PROFILE_CURL_POOL_IDLE 16

typedef struct profile_curl_pool_t profile_curl_pool_t;

/* At most max_idle handles are kept between uses; they are closed with pchild. NULL when no
 * lock could be made. */
profile_curl_pool_t *profile_curl_pool_create(apr_pool_t *pchild, int max_idle);

/* A handle for the calling thread alone until it is given back (a fresh one when none is
 * idle, or when pool is NULL); NULL when libcurl cannot make one. */
CURL *profile_curl_acquire(profile_curl_pool_t *pool);

/* Resets h and keeps it, or closes it when max_idle are idle already, the pool is closed or
 * pool is NULL. libcurl leaves a handle usable after any failed transfer (it closes a
 * connection it cannot trust), so every handle can come back. */
void profile_curl_release(profile_curl_pool_t *pool, CURL *h);

#endif
