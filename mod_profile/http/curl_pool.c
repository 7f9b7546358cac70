/* Per-process pool of libcurl easy handles; see curl_pool.h. A LIFO stack: the handle given
 * back last has the warmest connections. */
#include <apr_thread_mutex.h>
#include "http/curl_pool.h"

struct profile_curl_pool_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    CURL **idle;
    int n_idle;
    int max_idle;
    int closed;                /* pchild is being destroyed */
};

static void pool_lock(profile_curl_pool_t *pool)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(pool->mutex);
#else
    (void)pool;
#endif
}

static void pool_unlock(profile_curl_pool_t *pool)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(pool->mutex);
#else
    (void)pool;
#endif
}

static apr_status_t pool_cleanup(void *data)
{
    profile_curl_pool_t *pool = data;

    pool_lock(pool);
    while (pool->n_idle > 0)
        curl_easy_cleanup(pool->idle[--pool->n_idle]);
    pool->closed = 1;
    pool_unlock(pool);
    return APR_SUCCESS;
}

profile_curl_pool_t *profile_curl_pool_create(apr_pool_t *pchild, int max_idle)
{
    profile_curl_pool_t *pool = apr_pcalloc(pchild, sizeof(*pool));

    pool->max_idle = max_idle < 1 ? 1 : max_idle;
    pool->idle = apr_pcalloc(pchild, sizeof(*pool->idle) * (apr_size_t)pool->max_idle);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&pool->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS)
        return NULL;
#endif
    /* Registered after the mutex, so it runs while the mutex still exists. */
    apr_pool_cleanup_register(pchild, pool, pool_cleanup, apr_pool_cleanup_null);
    return pool;
}

CURL *profile_curl_acquire(profile_curl_pool_t *pool)
{
    CURL *h = NULL;

    if (pool) {
        pool_lock(pool);
        if (pool->n_idle > 0)
            h = pool->idle[--pool->n_idle];
        pool_unlock(pool);
    }
    return h ? h : curl_easy_init();
}

void profile_curl_release(profile_curl_pool_t *pool, CURL *h)
{
    if (!h)
        return;
    curl_easy_reset(h);
    if (pool) {
        pool_lock(pool);
        if (!pool->closed && pool->n_idle < pool->max_idle) {
            pool->idle[pool->n_idle++] = h;
            h = NULL;
        }
        pool_unlock(pool);
    }
    if (h)
        curl_easy_cleanup(h);
}
