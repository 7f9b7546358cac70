/* The scraper tier (scrape.h): one GET of a profile page through the gate and circuit breaker
 * of breaker.h, with a pooled curl handle, then page_parse.h.
 *
 * The upstream limits (concurrency, breaker) are the main server's, read once in post_config,
 * like the one breaker block they govern; URL, timeout, page cap and User-Agent are the
 * server's that asks. The circuit's openings and closings are logged once each for the whole
 * httpd, by the fetch whose result made them (breaker.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "http/scrape.h"
#include "http/breaker.h"
#include "http/curl_pool.h"
#include "cache/cache_stats.h"
#include "config/config.h"
#include "util/respond.h"
#include "util/shm_block.h"

#define BREAKER_SHM_KEY "profile_breaker"
#define CONNECT_TIMEOUT_MS 3000L
#define MAX_REDIRECTS 3L
#define PAGE_FIRST_ALLOC (64 * 1024)
/* A broken or hostile Retry-After must not switch the tier off for days. */
#define MAX_RETRY_AFTER_S 3600
/* A gate slot held this much longer than the longest fetch may take belongs to a dead
 * process (parsing a page and scheduling delays fit well within it). */
#define STALE_MARGIN apr_time_from_sec(30)

static profile_breaker_t *breaker;
static profile_breaker_limits_t limits;
static profile_curl_pool_t *handles;

apr_status_t profile_scrape_setup(server_rec *s)
{
    const profile_profiles_config_t *c = &profile_server_config(s)->profiles;
    int longest = 0;
    void *mem = NULL;
    apr_status_t rv;
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        int ms = profile_scrape_timeout_ms(&profile_server_config(vs)->profiles);

        longest = ms > longest ? ms : longest;
    }
    limits.max_concurrent = profile_scrape_concurrency(c);
    limits.threshold = profile_breaker_failures(c);
    limits.cooldown = apr_time_from_sec(profile_breaker_cooldown_s(c));
    limits.stale_after = apr_time_from_msec(longest) + STALE_MARGIN;
    rv = profile_shm_block(s, BREAKER_SHM_KEY, profile_breaker_size(), &mem);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10760)
                     "cannot create the shared memory of the profile page circuit breaker");
        return rv;
    }
    breaker = profile_breaker_init(mem);
    return APR_SUCCESS;
}

void profile_scrape_child_init(apr_pool_t *pchild, server_rec *s)
{
    handles = profile_curl_pool_create(pchild, PROFILE_CURL_POOL_IDLE);
    if (!handles)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10761)
                     "cannot create the lock of the HTTP client pool: profile page fetches "
                     "will not reuse connections");
}

/* The page as read so far: malloc'ed, grown by doubling, never beyond max bytes. */
typedef struct {
    char *data;
    apr_size_t len, cap, max;
    int too_big;
    int no_memory;
} page_t;

static size_t page_write(char *chunk, size_t size, size_t nmemb, void *ctx)
{
    page_t *pg = ctx;
    apr_size_t n = size * nmemb;

    if (n > pg->max - pg->len) {
        pg->too_big = 1;
        return 0;                  /* aborts the transfer */
    }
    if (n > pg->cap - pg->len) {
        apr_size_t cap = pg->cap ? pg->cap : PAGE_FIRST_ALLOC;
        char *data;

        while (cap < pg->len + n && cap < pg->max)
            cap *= 2;
        cap = cap < pg->max ? cap : pg->max;
        data = realloc(pg->data, cap);
        if (!data) {
            pg->no_memory = 1;
            return 0;
        }
        pg->data = data;
        pg->cap = cap;
    }
    memcpy(pg->data + pg->len, chunk, n);
    pg->len += n;
    return n;
}

static const char *page_url(apr_pool_t *p, const profile_profiles_config_t *c,
                            const char *username)
{
    const char *base = profile_tiktok_base_url(c);
    apr_size_t len = strlen(base);

    while (len > 0 && base[len - 1] == '/')
        len--;
    return apr_psprintf(p, "%.*s/@%s", (int)len, base, username);
}

static void set_options(CURL *h, const profile_profiles_config_t *c, const char *url,
                        long timeout_ms, page_t *pg, struct curl_slist *headers, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    /* Refuses a too long Content-Length up front; page_write caps the decoded bytes. */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)pg->max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, page_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, pg);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, profile_scrape_user_agent(c));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    /* No CURLOPT_COOKIEFILE: the cookie engine stays off, nothing is kept between fetches. */
}

/* The 429 answer's Retry-After (seconds or an HTTP date, which libcurl turns into seconds);
 * 0 when there is none: the breaker's cooldown applies. */
static apr_interval_time_t retry_after_of(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_off_t secs = 0;

    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK || secs <= 0)
        return 0;
    return apr_time_from_sec(secs < MAX_RETRY_AFTER_S ? secs : MAX_RETRY_AFTER_S);
#else
    (void)h;
    return 0;                      /* libcurl before 7.66 does not read the header */
#endif
}

/* out->rc, out->why and out->user from the transfer's result; the breaker's outcome. */
static profile_fetch_outcome_t judge(apr_pool_t *p, CURLcode rc, long timeout_ms,
                                     const page_t *pg, const char *errbuf,
                                     profile_scrape_result_t *out)
{
    const char *why = NULL;

    out->rc = PROFILE_SCRAPE_FAILED;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        out->why = out->elapsed_ms < timeout_ms
                   ? apr_psprintf(p, "connect timeout after %ld ms",
                                  timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms
                                                                  : CONNECT_TIMEOUT_MS)
                   : apr_psprintf(p, "timeout after %ld ms", timeout_ms);
    } else if (pg->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        out->why = apr_psprintf(p, "page larger than %" APR_SIZE_T_FMT " bytes", pg->max);
    } else if (pg->no_memory) {
        out->why = "out of memory for the page";
    } else if (rc != CURLE_OK) {
        out->why = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else if (out->http_status == HTTP_TOO_MANY_REQUESTS) {
        out->why = "HTTP 429";
        return PROFILE_FETCH_THROTTLED;
    } else if (out->http_status != HTTP_OK) {
        out->why = apr_psprintf(p, "HTTP %d", out->http_status);
    } else {
        switch (profile_page_parse(p, pg->data ? pg->data : "", pg->len, &out->user, &why)) {
        case PROFILE_PAGE_OK:
            out->rc = PROFILE_SCRAPE_OK;
            return PROFILE_FETCH_SUCCEEDED;
        case PROFILE_PAGE_NOT_FOUND:
            out->rc = PROFILE_SCRAPE_NOT_FOUND;
            return PROFILE_FETCH_SUCCEEDED;
        case PROFILE_PAGE_BLOCKED:
            out->why = "captcha or login wall";
            break;
        case PROFILE_PAGE_MALFORMED:
            out->why = apr_pstrcat(p, "malformed page: ", why ? why : "no profile in it", NULL);
            break;
        }
    }
    return PROFILE_FETCH_FAILED;
}

/* One transfer with a pooled handle; *retry_after set for THROTTLED. */
static profile_fetch_outcome_t fetch(server_rec *s, apr_pool_t *p, const char *username,
                                     profile_scrape_result_t *out,
                                     apr_interval_time_t *retry_after)
{
    const profile_profiles_config_t *c = &profile_server_config(s)->profiles;
    long timeout_ms = profile_scrape_timeout_ms(c), status = 0;
    page_t pg = { NULL, 0, 0, (apr_size_t)profile_scrape_max_page(c), 0, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers;
    profile_fetch_outcome_t outcome;
    apr_time_t start;
    CURLcode rc;
    CURL *h = profile_curl_acquire(handles);

    if (!h) {
        out->rc = PROFILE_SCRAPE_FAILED;
        out->why = "cannot create an HTTP client handle";
        return PROFILE_FETCH_FAILED;
    }
    headers = curl_slist_append(NULL, "Accept-Language: en");
    set_options(h, c, page_url(p, c, username), timeout_ms, &pg, headers, errbuf);
    start = apr_time_now();
    rc = curl_easy_perform(h);
    out->elapsed_ms = apr_time_as_msec(apr_time_now() - start);
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
        out->http_status = (int)status;
    outcome = judge(p, rc, timeout_ms, &pg, errbuf, out);
    if (outcome == PROFILE_FETCH_THROTTLED)
        *retry_after = retry_after_of(h);
    profile_curl_release(handles, h);
    curl_slist_free_all(headers);
    free(pg.data);
    return outcome;
}

/* Logs the opening or closing of the circuit this fetch's result made. */
static void announce(server_rec *s, const profile_scrape_result_t *out,
                     profile_fetch_outcome_t outcome, profile_breaker_change_t change)
{
    apr_time_t now = apr_time_now();
    profile_breaker_state_t st;
    long secs;

    if (change == PROFILE_BREAKER_UNCHANGED)
        return;
    profile_breaker_state(breaker, now, &st);
    if (change == PROFILE_BREAKER_CLOSED) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10762)
                     "profile pages: circuit closed, a trial fetch succeeded");
        return;
    }
    secs = (long)apr_time_sec(st.open_until - now + APR_USEC_PER_SEC - 1);
    if (outcome == PROFILE_FETCH_THROTTLED)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10763)
                     "profile pages: circuit open for %ld s, TikTok answered HTTP 429", secs);
    else if (change == PROFILE_BREAKER_REOPENED)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10764)
                     "profile pages: circuit open again for %ld s, the trial fetch failed: %s",
                     secs, out->why ? out->why : "unknown");
    else
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10765)
                     "profile pages: circuit open for %ld s after %d consecutive failed "
                     "fetches, the last: %s", secs, st.consecutive_failures,
                     out->why ? out->why : "unknown");
}

void profile_scrape(server_rec *s, apr_pool_t *p, const char *username,
                    profile_scrape_result_t *out)
{
    profile_breaker_verdict_t verdict = PROFILE_BREAKER_OPEN;
    apr_interval_time_t retry_after = 0;
    profile_fetch_outcome_t outcome;
    profile_breaker_change_t change;
    int slot = 0;

    memset(out, 0, sizeof(*out));
    profile_tiktok_user_init(&out->user);
    if (breaker)
        verdict = profile_breaker_enter(breaker, &limits, apr_time_now(), &slot);
    if (verdict != PROFILE_BREAKER_GO) {
        out->rc = PROFILE_SCRAPE_SKIPPED;
        out->why = verdict == PROFILE_BREAKER_BUSY ? "every fetch slot is busy"
                   : breaker ? "circuit open" : "the scraper is not set up";
        profile_cache_count(PROFILE_CS_UPSTREAM_SKIPPED);
        return;
    }
    outcome = fetch(s, p, username, out, &retry_after);
    change = profile_breaker_done(breaker, &limits, slot, apr_time_now(), outcome, retry_after);
    profile_cache_count(out->rc == PROFILE_SCRAPE_FAILED ? PROFILE_CS_UPSTREAM_FAILED
                                                         : PROFILE_CS_UPSTREAM_OK);
    profile_cache_upstream_ms(out->elapsed_ms);
    if (out->rc == PROFILE_SCRAPE_FAILED)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10766)
                     "profile page of @%s not fetched after %" APR_INT64_T_FMT " ms: %s",
                     username, out->elapsed_ms, out->why);
    announce(s, out, outcome, change);
}

json_t *profile_scrape_breaker_json(apr_pool_t *p)
{
    profile_breaker_state_t st = { "closed", 0, 0, 0 };

    if (breaker)
        profile_breaker_state(breaker, apr_time_now(), &st);
    return json_pack("{s:s, s:i, s:o, s:i}", "state", st.state,
                     "consecutive_failures", st.consecutive_failures,
                     "open_until", st.open_until ? json_string(profile_iso8601(p, st.open_until))
                                                 : json_null(),
                     "in_flight", st.in_flight);
}
