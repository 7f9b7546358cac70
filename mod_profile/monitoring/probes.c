/* Redis (hiredis) and sidecar (libcurl) probes. Not a hot path: each probe opens and
 * closes its own connection. */
#include <errno.h>
#include <string.h>
#include <curl/curl.h>
#include <hiredis.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "monitoring/probes.h"

/* Longest piece of a server's error reply quoted in a probe error. */
#define PROBE_REPLY_MAX 200

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

static double elapsed_ms(apr_time_t start)
{
    return (double)(apr_time_now() - start) / 1000.0;
}

/* The error of a failed command. Server replies never echo our arguments (the password
 * in particular), and connection errors come from the socket layer. */
static const char *redis_failure(apr_pool_t *p, const char *what, const redisContext *c,
                                 const redisReply *reply)
{
    if (!reply && c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return apr_psprintf(p, "%s: no answer within %d ms", what,
                            PROFILE_PROBE_REDIS_TIMEOUT_MS);
    if (!reply)
        return apr_psprintf(p, "%s: %s", what, c->err ? c->errstr : "no reply");
    if (reply->type == REDIS_REPLY_ERROR)
        return apr_psprintf(p, "%s: %.*s", what, PROBE_REPLY_MAX, reply->str);
    return apr_psprintf(p, "%s: unexpected reply", what);
}

/* Checks and frees the reply of one command: NULL when it is what ok() wants, else the error. */
static const char *redis_expect(apr_pool_t *p, redisContext *c, const char *what,
                                redisReply *reply, int (*ok)(const redisReply *))
{
    const char *err = (reply && ok(reply)) ? NULL : redis_failure(p, what, c, reply);

    if (reply)
        freeReplyObject(reply);
    return err;
}

static int reply_is_ok(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STATUS;
}

static int reply_is_pong(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
}

void profile_probe_redis(apr_pool_t *p, const profile_redis_target_t *t, profile_probe_t *out)
{
    struct timeval connect_tv = ms_to_tv(PROFILE_PROBE_CONNECT_TIMEOUT_MS);
    redisContext *c;
    const char *err = NULL;
    apr_time_t start;

    out->healthy = 0;
    out->round_trip_ms = 0.0;
    c = t->socket_path ? redisConnectUnixWithTimeout(t->socket_path, connect_tv)
                       : redisConnectWithTimeout(t->host, t->port, connect_tv);
    if (!c) {
        out->error = "connect: out of memory";
        return;
    }
    if (c->err) {
        out->error = apr_psprintf(p, "connect: %s", c->errstr);
        redisFree(c);
        return;
    }
    if (redisSetTimeout(c, ms_to_tv(PROFILE_PROBE_REDIS_TIMEOUT_MS)) != REDIS_OK)
        err = apr_psprintf(p, "connect: %s", c->errstr);
    if (!err && t->password)
        err = redis_expect(p, c, "AUTH", redisCommand(c, "AUTH %s", t->password), reply_is_ok);
    if (!err && t->db != 0)
        err = redis_expect(p, c, "SELECT", redisCommand(c, "SELECT %d", t->db), reply_is_ok);
    if (!err) {
        start = apr_time_now();
        err = redis_expect(p, c, "PING", redisCommand(c, "PING"), reply_is_pong);
        out->round_trip_ms = elapsed_ms(start);
    }
    redisFree(c);
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
