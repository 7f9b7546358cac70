/* Parsing of the WebSocket upgrade request (see ws/request.h). Pure functions. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "events/event.h"
#include "ws/request.h"

#define SEEN_SINCE 1
#define SEEN_TYPES 2

int live_ws_id_valid(const char *id, size_t len)
{
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int live_ws_parse_path(const char *path, char id[65])
{
    size_t plen = strlen(LIVE_WS_PATH_PREFIX), n;

    id[0] = '\0';
    if (strncmp(path, LIVE_WS_PATH_PREFIX, plen))
        return LIVE_WS_PATH_UNKNOWN;
    path += plen;
    n = strlen(path);
    if (!live_ws_id_valid(path, n))
        return LIVE_WS_PATH_BAD_ID;
    memcpy(id, path, n + 1);
    return 0;
}

int live_ws_parse_arg(const char *arg, live_ws_request_t *req, int *seen, const char **why)
{
    const char *eq = strchr(arg, '=');
    const char *value = eq ? eq + 1 : "";
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);

    if (nlen == 5 && !strncmp(arg, "since", 5)) {
        int64_t v = 0;
        size_t n = strlen(value);
        if (*seen & SEEN_SINCE) {
            *why = "since given twice";
            return -1;
        }
        *seen |= SEEN_SINCE;
        if (n < 1 || n > 18 || strspn(value, "0123456789") != n) {
            *why = "since must be a non-negative integer";
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (value[i] - '0');
        req->since = v;
        return 0;
    }
    if (nlen == 5 && !strncmp(arg, "types", 5)) {
        unsigned mask;
        if (*seen & SEEN_TYPES) {
            *why = "types given twice";
            return -1;
        }
        *seen |= SEEN_TYPES;
        mask = live_event_types_parse(value);
        if (!mask) {
            *why = "types must list known event types";
            return -1;
        }
        req->types = mask;
        return 0;
    }
    return 0;
}

void live_ws_strip_brackets(const char *host, char *out, size_t len)
{
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(out, len, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(out, len, "%s", host);
}

int live_ws_loopback(const char *host)
{
    char h[64];
    struct in_addr a4;
    struct in6_addr a6;

    live_ws_strip_brackets(host, h, sizeof(h));
    if (!strcmp(h, "localhost"))
        return 1;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}
