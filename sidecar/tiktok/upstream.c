/* TikTok's HTTP side of the tiktok source; see upstream.h. One libcurl easy handle per call
 * (these calls are rare): total and connect timeouts of tiktok_timeout_ms, no signals, no
 * redirects followed (a redirect is TikTok's way to a login or captcha wall), http(s) only,
 * bodies capped at UP_BODY_MAX and the collected headers bounded. The proxy settings are
 * libcurl's (http_proxy, https_proxy, no_proxy in the environment). Details are one sentence
 * for the operator: upstream text in them is cut, printable ASCII only, and never holds the
 * sign server's API key. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "tiktok/room_parse.h"
#include "tiktok/upstream.h"

#define UP_BODY_MAX        (4u << 20)   /* bytes of an answer's body */
#define UP_TEXT_MAX        LIVE_TT_TEXT_MAX
#define UP_USERNAME_MAX    64
#define UP_RETRY_DEFAULT   60           /* s, a 429 that says nothing */
#define UP_RETRY_MAX       LIVE_TT_RETRY_MAX
#define UP_ORIGIN          "https://www.tiktok.com"
#define UP_IDC_COOKIE      "tt-target-idc=useast1a"

typedef enum { CALL_WWW, CALL_SIGN } call_kind_t;

typedef struct {
    /* body */
    char *body;
    size_t len, cap;
    int too_large;
    /* headers of the last response (reset on each status line) */
    int retry_after_s;           /* -1: none */
    char cookie[LIVE_TT_COOKIE_MAX];
    size_t cookie_len;
    int cookie_cut;
    char location[UP_TEXT_MAX + 1];
    /* outcome */
    CURLcode rc;
    long code;                   /* HTTP status, 0 when none */
    char error[CURL_ERROR_SIZE];
} call_t;

const char *live_tt_reason(live_tt_status_t st)
{
    switch (st) {
    case LIVE_TT_OK:                return "ok";
    case LIVE_TT_USER_NOT_FOUND:    return "user_not_found";
    case LIVE_TT_NOT_LIVE:          return "not_live";
    case LIVE_TT_AGE_RESTRICTED:    return "age_restricted";
    case LIVE_TT_BLOCKED:           return "blocked";
    case LIVE_TT_SIGN_RATE_LIMITED: return "sign_server_rate_limited";
    case LIVE_TT_SIGN_UNAUTHORIZED: return "sign_server_unauthorized";
    case LIVE_TT_UPSTREAM_CHANGED:  return "upstream_changed";
    case LIVE_TT_NETWORK:           return "network";
    }
    return "network";
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Printable ASCII of s[0, n) into out (at most UP_TEXT_MAX bytes), other bytes as '?'. */
static void clean_text(const char *s, size_t n, char *out, size_t out_len)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < out_len && j < UP_TEXT_MAX; i++)
        out[j++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    if (out_len > 0)
        out[j] = '\0';
}

static void say(char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *detail, size_t detail_len, const char *fmt, ...)
{
    if (detail == NULL || detail_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, detail_len, fmt, ap);
    va_end(ap);
}

/* Masks every occurrence of the API key in detail (an upstream message may echo it). */
static void redact(char *detail, const char *key)
{
    size_t n = strlen(key);
    if (detail == NULL || n == 0)
        return;
    for (char *p = strstr(detail, key); p != NULL; p = strstr(p + n, key))
        memset(p, '*', n);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    call_t *c = ud;
    size_t n = size * nmemb;
    if (n > UP_BODY_MAX - c->len) {
        c->too_large = 1;
        return 0;                        /* aborts the transfer */
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 16384;
        while (cap < c->len + n)
            cap *= 2;
        if (cap > UP_BODY_MAX)
            cap = UP_BODY_MAX;
        char *b = realloc(c->body, cap);
        if (b == NULL)
            return 0;
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    return n;
}

/* Trims white space around s[0, *n). */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'
                      || s[*n - 1] == '\n'))
        (*n)--;
    return s;
}

/* Retry-After: delta seconds or an HTTP date; -1 when neither. */
static int parse_retry_after(const char *v, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    long s;
    if (strspn(buf, "0123456789") == n) {
        s = n > 6 ? UP_RETRY_MAX : strtol(buf, NULL, 10);
    } else {
        time_t t = curl_getdate(buf, NULL);
        if (t == (time_t)-1)
            return -1;
        s = (long)(t - time(NULL));
    }
    return s < 1 ? 1 : s > UP_RETRY_MAX ? UP_RETRY_MAX : (int)s;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    call_t *c = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {   /* a new response: forget the last */
        c->retry_after_s = -1;
        c->cookie_len = 0;
        c->cookie[0] = '\0';
        c->cookie_cut = 0;
        c->location[0] = '\0';
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (colon == NULL)
        return n;
    size_t nlen = (size_t)(colon - data), vlen = n - nlen - 1;
    const char *v = trim(colon + 1, &vlen);
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(data, h, nlen) == 0)
    if (IS("Retry-After")) {
        c->retry_after_s = parse_retry_after(v, vlen);
    } else if (IS("X-Set-TT-Cookie")) {
        if (live_tt_cookie_add(c->cookie, &c->cookie_len, sizeof c->cookie, v, vlen) != 0)
            c->cookie_cut = 1;
    } else if (IS("Location")) {
        const char *q = memchr(v, '?', vlen);   /* the query may carry tokens: drop it */
        clean_text(v, q ? (size_t)(q - v) : vlen, c->location, sizeof c->location);
    }
#undef IS
    return n;
}

static void add_header(struct curl_slist **hl, const char *h, int *oom)
{
    struct curl_slist *t = *oom ? NULL : curl_slist_append(*hl, h);
    if (t == NULL)
        *oom = 1;
    else
        *hl = t;
}

/* One GET. 0 when an HTTP answer came (c->code, body, headers), -1 on a transport failure
 * (c->rc, c->error; c->too_large when the body went past UP_BODY_MAX). */
/* libcurl's progress callback: a stopping session aborts its call. */
static int on_progress(void *stop, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return stop && *(volatile int *)stop;
}

static int http_get(const live_config_t *cfg, volatile int *stop, call_kind_t kind,
                    const char *what, const char *url, const char *accept, call_t *c)
{
    pthread_once(&curl_once, curl_init_once);
    memset(c, 0, sizeof *c);
    c->retry_after_s = -1;
    CURL *e = curl_easy_init();
    if (e == NULL) {
        c->rc = CURLE_OUT_OF_MEMORY;
        snprintf(c->error, sizeof c->error, "out of memory");
        return -1;
    }
    struct curl_slist *hl = NULL;
    int oom = 0;
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Accept: %s", accept);
    add_header(&hl, hdr, &oom);
    if (kind == CALL_WWW) {
        add_header(&hl, "Referer: " UP_ORIGIN "/", &oom);
        add_header(&hl, "Origin: " UP_ORIGIN, &oom);
        add_header(&hl, "Accept-Language: en-US,en;q=0.9", &oom);
        curl_easy_setopt(e, CURLOPT_COOKIE, UP_IDC_COOKIE);
    } else if (cfg->sign_api_key[0] != '\0') {
        snprintf(hdr, sizeof hdr, "X-Api-Key: %s", cfg->sign_api_key);
        add_header(&hl, hdr, &oom);
        explicit_bzero(hdr, sizeof hdr);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->tiktok_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->tiktok_timeout_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)UP_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->tiktok_user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->error);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)stop);
    c->rc = oom ? CURLE_OUT_OF_MEMORY : curl_easy_perform(e);
    if (c->rc == CURLE_FILESIZE_EXCEEDED)
        c->too_large = 1;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->code);
    curl_easy_cleanup(e);
    curl_slist_free_all(hl);
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof c->error, "%s", curl_easy_strerror(c->rc));
    else
        clean_text(c->error, strlen(c->error), c->error, sizeof c->error);
    LIVE_DEBUG("tiktok: GET %s: %s, HTTP %ld, %zu bytes", what,
               c->rc == CURLE_OK ? "done" : c->error, c->code, c->len);
    return c->rc == CURLE_OK ? 0 : -1;
}

static void call_free(call_t *c)
{
    free(c->body);
    c->body = NULL;
}

/* A transport failure of what ("the live page", …) as a sentence. */
static void say_transport(const live_config_t *cfg, const call_t *c, const char *what,
                          char *detail, size_t detail_len)
{
    if (c->too_large)
        say(detail, detail_len, "%s's answer is larger than %u MiB.", what, UP_BODY_MAX >> 20);
    else if (c->rc == CURLE_OPERATION_TIMEDOUT)
        say(detail, detail_len, "%s did not answer within %d ms (tiktok_timeout_ms).", what,
            cfg->tiktok_timeout_ms);
    else
        say(detail, detail_len, "%s could not be reached: %s.", what, c->error);
}

static int username_ok(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n == 0 || n > UP_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f)
            return 0;
    return 1;
}

/* The room API's answer, after the live page told us nothing (page_why says why). */
static live_tt_status_t api_status(const call_t *c, const char *page_why, live_room_t *room,
                                   char *detail, size_t detail_len)
{
    char why[256];
    long code = c->code;
    if (code >= 300 && code < 400) {
        say(detail, detail_len, "TikTok redirected the room lookup%s%s (a login or captcha "
            "wall): this address looks blocked (%s).", c->location[0] ? " to " : "",
            c->location, page_why);
        return LIVE_TT_BLOCKED;
    }
    if (code == 401 || code == 403 || code == 429) {
        say(detail, detail_len, "TikTok refused the room lookup with HTTP %ld: this address "
            "looks blocked (%s).", code, page_why);
        return LIVE_TT_BLOCKED;
    }
    if (code >= 500 || code < 200) {
        say(detail, detail_len, "TikTok's room API answered HTTP %ld (%s).", code, page_why);
        return LIVE_TT_NETWORK;
    }
    if (code >= 400) {
        say(detail, detail_len, "TikTok's room API answered HTTP %ld: it may have moved "
            "(%s).", code, page_why);
        return LIVE_TT_UPSTREAM_CHANGED;
    }
    switch (live_room_parse_api(c->body, c->len, room, why, sizeof why)) {
    case LIVE_ROOM_FOUND:
        return LIVE_TT_OK;
    case LIVE_ROOM_NO_ROOM:
        if (room->status == 2) {
            say(detail, detail_len, "TikTok says the user is live but gives no room id (%s).",
                page_why);
            return LIVE_TT_UPSTREAM_CHANGED;
        }
        if (room->status == 0)
            room->status = 4;
        return LIVE_TT_OK;
    case LIVE_ROOM_USER_NOT_FOUND:
        say(detail, detail_len, "TikTok has no user of this name (room API statusCode "
            "%ld).", LIVE_TT_NOT_FOUND_CODE);
        return LIVE_TT_USER_NOT_FOUND;
    case LIVE_ROOM_AGE_RESTRICTED:
        say(detail, detail_len, "The live is age restricted and cannot be watched without a "
            "login (room API statusCode %ld).", LIVE_TT_AGE_CODE);
        return LIVE_TT_AGE_RESTRICTED;
    case LIVE_ROOM_EMPTY:
    case LIVE_ROOM_HTML:
        say(detail, detail_len, "TikTok answered the room lookup with a captcha or an empty "
            "page: this address looks blocked (%s; %s).", page_why, why);
        return LIVE_TT_BLOCKED;
    case LIVE_ROOM_NO_SCRIPT:
    case LIVE_ROOM_MALFORMED:
        break;
    }
    say(detail, detail_len, "TikTok's room lookup answers no longer parse (%s; %s).",
        page_why, why);
    return LIVE_TT_UPSTREAM_CHANGED;
}

live_tt_status_t live_room_lookup(const live_config_t *cfg, const char *username,
                                  live_room_t *room, volatile int *stop, char *detail,
                                  size_t detail_len)
{
    char url[LIVE_PATH_MAX + 3 * UP_USERNAME_MAX + 64], page_why[256];
    call_t c;
    memset(room, 0, sizeof *room);
    say(detail, detail_len, "%s", "");
    if (!username_ok(username)) {
        say(detail, detail_len, "This is not a TikTok username.");
        return LIVE_TT_USER_NOT_FOUND;
    }
    char *esc = curl_easy_escape(NULL, username, 0);
    if (esc == NULL) {
        say(detail, detail_len, "Out of memory.");
        return LIVE_TT_NETWORK;
    }
    snprintf(url, sizeof url, "%s/@%s/live", cfg->tiktok_www_url, esc);
    if (http_get(cfg, stop, CALL_WWW, "live page", url, "text/html,application/xhtml+xml", &c) != 0
        && !c.too_large) {
        say_transport(cfg, &c, "TikTok's live page", detail, detail_len);
        call_free(&c);
        curl_free(esc);
        return LIVE_TT_NETWORK;
    }
    if (c.too_large)
        snprintf(page_why, sizeof page_why, "the live page is larger than %u MiB",
                 UP_BODY_MAX >> 20);
    else if (c.code >= 300 && c.code < 400)
        snprintf(page_why, sizeof page_why, "the live page redirected%s%s",
                 c.location[0] ? " to " : "", c.location);
    else if (c.code != 200)
        snprintf(page_why, sizeof page_why, "the live page answered HTTP %ld", c.code);
    else if (live_room_parse_page(c.body, c.len, room, page_why, sizeof page_why)
             == LIVE_ROOM_FOUND) {
        call_free(&c);
        curl_free(esc);
        return LIVE_TT_OK;
    }
    call_free(&c);
    snprintf(url, sizeof url, "%s/api-live/user/room/?uniqueId=%s&sourceType=54",
             cfg->tiktok_www_url, esc);
    curl_free(esc);
    live_tt_status_t st;
    if (http_get(cfg, stop, CALL_WWW, "room API", url, "application/json, text/plain, */*", &c) != 0) {
        if (c.too_large) {
            say(detail, detail_len, "TikTok's room API answer is larger than %u MiB (%s).",
                UP_BODY_MAX >> 20, page_why);
            st = LIVE_TT_UPSTREAM_CHANGED;
        } else {
            say_transport(cfg, &c, "TikTok's room API", detail, detail_len);
            st = LIVE_TT_NETWORK;
        }
    } else {
        st = api_status(&c, page_why, room, detail, detail_len);
    }
    call_free(&c);
    if (st != LIVE_TT_OK)
        memset(room, 0, sizeof *room);
    return st;
}

static live_tt_status_t sign_status(const live_config_t *cfg, call_t *c,
                                    live_sign_result_t *out, char *detail, size_t detail_len)
{
    char msg[UP_TEXT_MAX + 1], label[UP_TEXT_MAX + 1], paren[UP_TEXT_MAX + 8];
    int retry;
    long code = c->code;
    if (code >= 200 && code < 300) {
        if (c->len == 0) {
            say(detail, detail_len, "The sign server got an empty answer from TikTok "
                "(HTTP %ld without a body): TikTok detected the client.", code);
            return LIVE_TT_BLOCKED;
        }
        out->fetch = (uint8_t *)c->body;
        out->fetch_len = c->len;
        c->body = NULL;
        if (c->cookie_len > 0 && (out->cookie = strdup(c->cookie)) == NULL) {
            free(out->fetch);
            out->fetch = NULL;
            out->fetch_len = 0;
            say(detail, detail_len, "Out of memory.");
            return LIVE_TT_NETWORK;
        }
        if (c->cookie_cut)
            LIVE_WARN("tiktok: the sign server's cookies exceed %d bytes: some were dropped",
                      LIVE_TT_COOKIE_MAX);
        return LIVE_TT_OK;
    }
    live_sign_error_parse(c->body, c->len, (long)time(NULL), msg, sizeof msg, label,
                          sizeof label, &retry);
    snprintf(paren, sizeof paren, "%s%s", msg[0] ? ": " : "", msg);
    if (code == 429) {
        out->retry_after_s = c->retry_after_s > 0 ? c->retry_after_s
                           : retry > 0 ? retry : UP_RETRY_DEFAULT;
        say(detail, detail_len, "The sign server's rate limit%s%s is reached (HTTP 429%s); "
            "retrying in %d s.", label[0] ? " " : "", label, paren, out->retry_after_s);
        return LIVE_TT_SIGN_RATE_LIMITED;
    }
    if (code == 401) {
        say(detail, detail_len, cfg->sign_api_key[0]
            ? "The sign server refused the API key (HTTP 401%s): check sign_api_key_file."
            : "The sign server wants an API key (HTTP 401%s): set sign_api_key_file.", paren);
        return LIVE_TT_SIGN_UNAUTHORIZED;
    }
    if (code == 402) {
        say(detail, detail_len, "The sign server's plan does not include this (HTTP 402%s): "
            "upgrade it or use another sign server.", paren);
        return LIVE_TT_SIGN_UNAUTHORIZED;
    }
    if (code == 403) {
        say(detail, detail_len, "The sign server forbids this request (HTTP 403%s).", paren);
        return LIVE_TT_SIGN_UNAUTHORIZED;
    }
    say(detail, detail_len, "The sign server answered HTTP %ld%s%s.", code,
        code >= 300 && code < 400 && c->location[0] ? " to " : "",
        code >= 300 && code < 400 ? c->location : paren);
    return LIVE_TT_NETWORK;
}

live_tt_status_t live_sign_fetch(const live_config_t *cfg, const char *room_id,
                                 live_sign_result_t *out, volatile int *stop, char *detail,
                                 size_t detail_len)
{
    memset(out, 0, sizeof *out);
    say(detail, detail_len, "%s", "");
    size_t n = room_id ? strlen(room_id) : 0;
    if (n == 0 || n >= sizeof ((live_room_t *)0)->room_id
        || strspn(room_id, "0123456789") != n) {
        say(detail, detail_len, "The room id is not a decimal number.");
        return LIVE_TT_UPSTREAM_CHANGED;
    }
    char *ua = curl_easy_escape(NULL, cfg->tiktok_user_agent, 0);
    if (ua == NULL) {
        say(detail, detail_len, "Out of memory.");
        return LIVE_TT_NETWORK;
    }
    size_t len = strlen(cfg->sign_url) + strlen(ua) + n + 96;
    char *url = malloc(len);
    if (url == NULL) {
        curl_free(ua);
        say(detail, detail_len, "Out of memory.");
        return LIVE_TT_NETWORK;
    }
    snprintf(url, len, "%s/webcast/fetch?client=ttlive-c&room_id=%s&user_agent=%s"
             "&client_enter=true", cfg->sign_url, room_id, ua);
    curl_free(ua);
    call_t c;
    live_tt_status_t st;
    if (http_get(cfg, stop, CALL_SIGN, "sign server", url, "application/x-protobuf, application/json", &c) != 0) {
        say_transport(cfg, &c, "The sign server", detail, detail_len);
        st = LIVE_TT_NETWORK;
    } else {
        st = sign_status(cfg, &c, out, detail, detail_len);
    }
    free(url);
    call_free(&c);
    redact(detail, cfg->sign_api_key);
    return st;
}

void live_sign_result_free(live_sign_result_t *r)
{
    if (r == NULL)
        return;
    free(r->fetch);
    free(r->cookie);
    memset(r, 0, sizeof *r);
}
