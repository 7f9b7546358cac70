/* Redis (hiredis) and sidecar (libcurl) probes. Not a hot path: each probe opens and
 * closes its own connection. */
#include <string.h>
#include <curl/curl.h>
#include <hiredis.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "monitoring/probes.h"
#include "util/redis_connect.h"

static double elapsed_ms(apr_time_t start)
{
    return (double)(apr_time_now() - start) / 1000.0;
}

static int reply_is_pong(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
}

void profile_probe_redis(apr_pool_t *p, const profile_redis_target_t *t, profile_probe_t *out)
{
    const char *err = NULL;
    redisContext *c = profile_redis_connect(t, PROFILE_PROBE_CONNECT_TIMEOUT_MS,
                                            PROFILE_PROBE_REDIS_TIMEOUT_MS, p, &err);
    apr_time_t start;

    out->round_trip_ms = 0.0;
    if (c) {
        start = apr_time_now();
        err = profile_redis_expect(p, c, "PING", redisCommand(c, "PING"), reply_is_pong,
                                   PROFILE_PROBE_REDIS_TIMEOUT_MS);
        out->round_trip_ms = elapsed_ms(start);
        redisFree(c);
    }
    out->healthy = err == NULL;
    out->error = err;
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * nmemb;
}

void profile_probe_sidecar(apr_pool_t *p, const char *base_url, profile_probe_t *out)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    long code = 0;
    CURLcode rc;
    apr_time_t start;

    out->healthy = 0;
    out->round_trip_ms = 0.0;
    if (!h) {
        out->error = "cannot create an HTTP client handle";
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, apr_pstrcat(p, base_url, "/health", NULL));
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)PROFILE_PROBE_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)PROFILE_PROBE_HTTP_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  /* the sidecar is local: ignore *_proxy variables */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    start = apr_time_now();
    rc = curl_easy_perform(h);
    out->round_trip_ms = elapsed_ms(start);
    if (rc != CURLE_OK)
        out->error = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
             code < 200 || code > 299)
        out->error = apr_psprintf(p, "the health check answered HTTP %ld", code);
    else
        out->error = NULL;
    curl_easy_cleanup(h);
    out->healthy = out->error == NULL;
}
