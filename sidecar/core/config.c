/* The sidecar's configuration file: `key = value` lines, `#` comments (a whole line, or after
 * an unquoted value following white space), values optionally in double quotes (\" and \\
 * inside). Every key has a default (live_config_defaults); a bad value, an unknown or repeated
 * key fails the load with a message naming the file, line and key. Relative paths are taken
 * relative to the configuration file's directory. The listener is loopback or a unix socket
 * only: httpd proxies to the sidecar, nothing else may reach it. The tiktok source's base
 * URLs are http(s) (the push server override ws(s)) and are kept without a trailing slash. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

#ifndef LIVE_DATA_DIR
#define LIVE_DATA_DIR "/usr/share/mod_profile"
#endif

#define LINE_MAX_BYTES  4096
#define SECRET_MIN      32
#define SECRET_MAX      256
#define API_KEY_MAX     255
#define DEFAULT_UA      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " \
                        "(KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"

typedef enum {
    K_INT, K_SPEED, K_BOOL, K_LEVEL, K_PATH, K_PATH_OPT, K_CONNINFO, K_LISTEN, K_ID,
    K_URL, K_WS_URL, K_TEXT
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;                  /* of the field in live_config_t */
    size_t size;                 /* of a string field */
    long min, max;               /* of an integer */
} key_def_t;

#define FIELD(f) offsetof(live_config_t, f), sizeof(((live_config_t *)0)->f)
#define INT_KEY(n, f, lo, hi) { n, K_INT, FIELD(f), lo, hi }

static const key_def_t keys[] = {
    { "listen",       K_LISTEN,   0, 0, 0, 0 },
    { "database",     K_CONNINFO, FIELD(database), 0, 0 },
    { "secret_file",  K_PATH,     FIELD(secret_file), 0, 0 },
    { "pid_file",     K_PATH_OPT, FIELD(pid_file), 0, 0 },
    { "log_file",     K_PATH_OPT, FIELD(log_file), 0, 0 },
    { "log_level",    K_LEVEL,    FIELD(log_level), 0, 0 },
    { "sidecar_id",   K_ID,       FIELD(sidecar_id), 0, 0 },
    { "replay_dir",   K_PATH,     FIELD(replay_dir), 0, 0 },
    { "replay_speed", K_SPEED,    FIELD(replay_speed), 0, 0 },
    { "replay_loop",  K_BOOL,     FIELD(replay_loop), 0, 0 },
    INT_KEY("lease",              lease_s,            2, 3600),
    INT_KEY("heartbeat",          heartbeat_s,        1, 3600),
    INT_KEY("batch_interval_ms",  batch_interval_ms,  1, 10000),
    INT_KEY("batch_max_events",   batch_max_events,   1, 100000),
    INT_KEY("inbox_max_events",   inbox_max_events,   100, 10000000),
    INT_KEY("session_buffer",     session_buffer,     16, 1000000),
    INT_KEY("client_queue",       client_queue,       1, 1000000),
    INT_KEY("client_send_buffer", client_send_buffer, 0, 16777216),
    INT_KEY("ping_interval",      ping_interval_s,    1, 3600),
    INT_KEY("max_sessions",       max_sessions,       1, 10000),
    INT_KEY("max_clients",        max_clients,        1, 1000000),
    INT_KEY("history_batch",      history_batch,      1, 100000),
    INT_KEY("drain_timeout",      drain_timeout_s,    1, 300),
    INT_KEY("db_timeout_ms",      db_timeout_ms,      100, 600000),
    { "tiktok_www_url",    K_URL,      FIELD(tiktok_www_url), 0, 0 },
    { "tiktok_push_url",   K_WS_URL,   FIELD(tiktok_push_url), 0, 0 },
    { "sign_url",          K_URL,      FIELD(sign_url), 0, 0 },
    { "sign_api_key_file", K_PATH_OPT, FIELD(sign_api_key_file), 0, 0 },
    { "tiktok_user_agent", K_TEXT,     FIELD(tiktok_user_agent), 0, 0 },
    INT_KEY("tiktok_timeout_ms",         tiktok_timeout_ms,         1000, 120000),
    INT_KEY("tiktok_heartbeat",          tiktok_heartbeat_s,        1, 60),
    INT_KEY("tiktok_reconnect_attempts", tiktok_reconnect_attempts, 1, 100),
    INT_KEY("tiktok_backoff_min_ms",     tiktok_backoff_min_ms,     10, 60000),
    INT_KEY("tiktok_backoff_max_ms",     tiktok_backoff_max_ms,     10, 600000),
    INT_KEY("tiktok_live_poll",          tiktok_live_poll_s,        30, 3600),
    INT_KEY("tiktok_malformed_limit",    tiktok_malformed_limit,    1, 100000),
};
#define NKEYS (sizeof keys / sizeof keys[0])

typedef struct {
    const char *path;
    char dir[LIVE_PATH_MAX];     /* absolute directory of path, for relative values */
    int lines[NKEYS];            /* where each key was set (0: default) */
    live_config_t *cfg;
    char *err;
    size_t errlen;
} ctx_t;

static int fail(ctx_t *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(ctx_t *c, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(c->err, c->errlen, "%s:%d: %s", c->path, line, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    return -1;
}

static int key_index(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

void live_config_defaults(live_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 58090;
    cfg->log_level = LIVE_LOG_INFO;
    snprintf(cfg->replay_dir, sizeof cfg->replay_dir, "%s/replay", LIVE_DATA_DIR);
    cfg->replay_speed = 1.0;
    cfg->replay_loop = 1;
    cfg->lease_s = 15;
    cfg->heartbeat_s = 5;
    cfg->batch_interval_ms = 50;
    cfg->batch_max_events = 500;
    cfg->inbox_max_events = 20000;
    cfg->session_buffer = 4096;
    cfg->client_queue = 1024;
    cfg->client_send_buffer = 65536;
    cfg->ping_interval_s = 30;
    cfg->max_sessions = 100;
    cfg->max_clients = 10000;
    cfg->history_batch = 1000;
    cfg->drain_timeout_s = 10;
    cfg->db_timeout_ms = 5000;
    snprintf(cfg->tiktok_www_url, sizeof cfg->tiktok_www_url, "https://www.tiktok.com");
    snprintf(cfg->sign_url, sizeof cfg->sign_url, "https://tiktok.eulerstream.com");
    snprintf(cfg->tiktok_user_agent, sizeof cfg->tiktok_user_agent, "%s", DEFAULT_UA);
    cfg->tiktok_timeout_ms = 10000;
    cfg->tiktok_heartbeat_s = 10;
    cfg->tiktok_reconnect_attempts = 5;
    cfg->tiktok_backoff_min_ms = 1000;
    cfg->tiktok_backoff_max_ms = 30000;
    cfg->tiktok_live_poll_s = 60;
    cfg->tiktok_malformed_limit = 50;
}

/* value relative to the configuration's directory unless absolute, into out[size]. */
static int resolve_path(ctx_t *c, int line, const char *key, const char *value, char *out,
                        size_t size)
{
    int n = value[0] == '/' ? snprintf(out, size, "%s", value)
                            : snprintf(out, size, "%s/%s", c->dir, value);
    if (n < 0 || (size_t)n >= size)
        return fail(c, line, "%s: path too long (at most %zu bytes)", key, size - 1);
    return 0;
}

static int parse_port(const char *s, int *port)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static int parse_listen(ctx_t *c, int line, const char *v)
{
    live_config_t *cfg = c->cfg;
    static const char only[] =
        "the sidecar listens on loopback only: 127.0.0.1:PORT, localhost:PORT, [::1]:PORT "
        "or unix:/path";
    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0')
            return fail(c, line, "listen: unix: needs a socket path");
        if (resolve_path(c, line, "listen", v + 5, cfg->listen_unix, sizeof cfg->listen_unix))
            return -1;
        cfg->listen_host[0] = '\0';
        cfg->listen_port = 0;
        return 0;
    }
    char host[128];
    const char *port;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - v - 1) >= sizeof host)
            return fail(c, line, "listen: expected [::1]:PORT, got '%.64s'", v);
        memcpy(host, v + 1, (size_t)(close - v - 1));
        host[close - v - 1] = '\0';
        port = close + 2;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1 || !IN6_IS_ADDR_LOOPBACK(&a6))
            return fail(c, line, "listen: '%.64s' is not a loopback address; %s", v, only);
        snprintf(cfg->listen_host, sizeof cfg->listen_host, "::1");
    } else {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || (size_t)(colon - v) >= sizeof host)
            return fail(c, line, "listen: expected HOST:PORT or unix:/path, got '%.64s'", v);
        memcpy(host, v, (size_t)(colon - v));
        host[colon - v] = '\0';
        port = colon + 1;
        struct in_addr a4;
        if (strcasecmp(host, "localhost") == 0) {
            snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
        } else if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) {
            inet_ntop(AF_INET, &a4, cfg->listen_host, sizeof cfg->listen_host);
        } else {
            return fail(c, line, "listen: '%.64s' is not a loopback address; %s", v, only);
        }
    }
    if (parse_port(port, &cfg->listen_port) != 0)
        return fail(c, line, "listen: the port must be an integer between 1 and 65535, got "
                    "'%.16s'", port);
    cfg->listen_unix[0] = '\0';
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = { "yes", "true", "on", "1" }, *no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v, no[i]) == 0)  { *out = 0; return 0; }
    }
    return -1;
}

/* tiktok_www_url, sign_url: http(s)://host[/path] (one trailing slash removed, no query);
 * tiktok_push_url: empty or ws(s)://… as given. The value is not echoed: it may hold a
 * password (http://user:password@proxy). */
static int parse_url(ctx_t *c, int line, const key_def_t *k, const char *v, char *field)
{
    int ws = k->kind == K_WS_URL;
    const char *s1 = ws ? "ws://" : "http://", *s2 = ws ? "wss://" : "https://";
    size_t n = strlen(v), skip = strncmp(v, s1, strlen(s1)) == 0 ? strlen(s1)
                               : strncmp(v, s2, strlen(s2)) == 0 ? strlen(s2) : 0;
    if (ws && n == 0) {
        field[0] = '\0';
        return 0;
    }
    if (skip == 0)
        return fail(c, line, "%s must start with %s or %s", k->name, s1, s2);
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p >= 0x7F)
            return fail(c, line, "%s may not contain spaces or control characters", k->name);
    if (v[skip] == '\0' || v[skip] == '/' || v[skip] == '?' || v[skip] == '#')
        return fail(c, line, "%s has no host name", k->name);
    if (!ws && strpbrk(v, "?#") != NULL)
        return fail(c, line, "%s is a base URL: it may not hold a query (?) or fragment (#)",
                    k->name);
    if (!ws && v[n - 1] == '/' && v[--n - 1] == '/')
        return fail(c, line, "%s may not end with more than one slash", k->name);
    if (n >= k->size)
        return fail(c, line, "%s is too long (at most %zu bytes)", k->name, k->size - 1);
    memcpy(field, v, n);
    field[n] = '\0';
    return 0;
}

static int set_value(ctx_t *c, int line, const key_def_t *k, const char *v)
{
    char *field = (char *)c->cfg + k->off;
    if (v[0] == '\0' && k->kind != K_PATH_OPT && k->kind != K_WS_URL)
        return fail(c, line, "%s needs a value", k->name);
    switch (k->kind) {
    case K_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end != '\0' || !(isdigit((unsigned char)v[0]) || v[0] == '-')
            || n < k->min || n > k->max)
            return fail(c, line, "%s must be an integer between %ld and %ld, got '%.64s'",
                        k->name, k->min, k->max, v);
        *(int *)field = (int)n;
        return 0;
    }
    case K_SPEED: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || *end != '\0' || !isfinite(d) || d < 0.1 || d > 1000.0)
            return fail(c, line, "%s must be a number between 0.1 and 1000, got '%.64s'",
                        k->name, v);
        *(double *)field = d;
        return 0;
    }
    case K_BOOL:
        if (parse_bool(v, (int *)field) != 0)
            return fail(c, line, "%s must be yes or no, got '%.64s'", k->name, v);
        return 0;
    case K_LEVEL: {
        live_log_level_t *lv = (live_log_level_t *)field;
        if (strcasecmp(v, "debug") == 0)        *lv = LIVE_LOG_DEBUG;
        else if (strcasecmp(v, "info") == 0)    *lv = LIVE_LOG_INFO;
        else if (strcasecmp(v, "warn") == 0 || strcasecmp(v, "warning") == 0) *lv = LIVE_LOG_WARN;
        else if (strcasecmp(v, "error") == 0)   *lv = LIVE_LOG_ERROR;
        else
            return fail(c, line, "%s must be debug, info, warn or error, got '%.64s'",
                        k->name, v);
        return 0;
    }
    case K_PATH_OPT:
        if (v[0] == '\0') {
            field[0] = '\0';
            return 0;
        }
        /* fall through */
    case K_PATH:
        return resolve_path(c, line, k->name, v, field, k->size);
    case K_CONNINFO:
        /* Never echo it: a conninfo string may hold a password. */
        if (strlen(v) >= k->size)
            return fail(c, line, "%s is too long (at most %zu bytes)", k->name, k->size - 1);
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_ID:
        if (strlen(v) >= k->size)
            return fail(c, line, "%s is too long (at most %zu bytes)", k->name, k->size - 1);
        for (const char *p = v; *p; p++)
            if (*p <= ' ' || *p >= 0x7F)
                return fail(c, line, "%s may hold printable ASCII without spaces only, got "
                            "'%.64s'", k->name, v);
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_LISTEN:
        return parse_listen(c, line, v);
    case K_URL:
    case K_WS_URL:
        return parse_url(c, line, k, v, field);
    case K_TEXT:
        if (strlen(v) >= k->size)
            return fail(c, line, "%s is too long (at most %zu bytes)", k->name, k->size - 1);
        for (const char *p = v; *p; p++)
            if (*p < ' ' || *p >= 0x7F)
                return fail(c, line, "%s may hold printable ASCII only", k->name);
        memcpy(field, v, strlen(v) + 1);
        return 0;
    }
    return -1;
}

/* Splits one line into key and value (in place). 1 when it holds a setting, 0 when blank or
 * a comment, -1 on a syntax error (reported). */
static int split_line(ctx_t *c, int line, char *s, char **key, char **value)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == '#')
        return 0;
    *key = s;
    while (isalnum((unsigned char)*s) || *s == '_')
        s++;
    char *key_end = s;
    while (*s == ' ' || *s == '\t')
        s++;
    if (key_end == *key || *s != '=')
        return fail(c, line, "expected 'key = value'");
    *key_end = '\0';
    s++;
    while (*s == ' ' || *s == '\t')
        s++;
    *value = s;
    if (*s == '"') {
        char *out = s;
        s++;
        for (;;) {
            if (*s == '\0')
                return fail(c, line, "%s: unterminated quoted value", *key);
            if (*s == '"')
                break;
            if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                s++;
            *out++ = *s++;
        }
        *out = '\0';
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '\0' && *s != '#')
            return fail(c, line, "%s: unexpected text after the closing quote", *key);
        return 1;
    }
    char *end = s;
    for (char *p = s; *p; p++) {
        if (*p == '#' && p > s && (p[-1] == ' ' || p[-1] == '\t'))
            break;
        end = p + 1;
    }
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return 1;
}

static int read_lines(ctx_t *c, FILE *f)
{
    char buf[LINE_MAX_BYTES + 2];
    int line = 0;
    while (fgets(buf, sizeof buf, f) != NULL) {
        line++;
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n')
            buf[--n] = '\0';
        else if (!feof(f))
            return fail(c, line, "line too long (at most %d bytes)", LINE_MAX_BYTES);
        if (n > 0 && buf[n - 1] == '\r')
            buf[--n] = '\0';
        char *key = NULL, *value = NULL;
        int r = split_line(c, line, buf, &key, &value);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        int i = key_index(key);
        if (i < 0)
            return fail(c, line, "unknown key '%.64s'", key);
        if (c->lines[i] != 0)
            return fail(c, line, "%s is already set on line %d", key, c->lines[i]);
        c->lines[i] = line;
        if (set_value(c, line, &keys[i], value) != 0)
            return -1;
    }
    if (ferror(f))
        return fail(c, 0, "read error: %s", strerror(errno));
    return 0;
}

/* Reads the small file path (key's value, set on line) into buf: at most size bytes are
 * read, one trailing newline (or CRLF) is dropped. A file with one of the mode bits refuse
 * is refused, with hint. 0 with *len set, or -1 (reported). */
static int read_small_file(ctx_t *c, const char *key, const char *path, mode_t refuse,
                           const char *hint, unsigned char *buf, size_t size, size_t *len)
{
    int line = c->lines[key_index(key)];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(c, line, "%s %s: %s", key, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(c, line, "%s %s is not a regular file", key, path);
    }
    if (st.st_mode & refuse) {
        close(fd);
        return fail(c, line, "%s %s is %s by other users (mode %04o): chmod %s it", key, path,
                    refuse & S_IROTH ? "accessible" : "writable",
                    (unsigned)(st.st_mode & 07777), hint);
    }
    *len = 0;
    while (*len < size) {
        ssize_t r = read(fd, buf + *len, size - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return fail(c, line, "%s %s: %s", key, path, strerror(e));
        }
        if (r == 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    if (*len > 0 && buf[*len - 1] == '\n') {
        (*len)--;
        if (*len > 0 && buf[*len - 1] == '\r')
            (*len)--;
    }
    return 0;
}

static int read_secret(ctx_t *c)
{
    live_config_t *cfg = c->cfg;
    int line = c->lines[key_index("secret_file")];
    unsigned char buf[SECRET_MAX + 3];
    size_t len = 0;
    int rc = read_small_file(c, "secret_file", cfg->secret_file, S_IROTH | S_IWOTH, "o-rwx",
                             buf, sizeof buf, &len);
    if (rc == 0 && len < SECRET_MIN)
        rc = fail(c, line, "secret_file %s must hold at least %d bytes (it has %zu)",
                  cfg->secret_file, SECRET_MIN, len);
    else if (rc == 0 && len > SECRET_MAX)
        rc = fail(c, line, "secret_file %s must hold at most %d bytes", cfg->secret_file,
                  SECRET_MAX);
    else if (rc == 0 && memchr(buf, '\0', len) != NULL)
        rc = fail(c, line, "secret_file %s contains a NUL byte", cfg->secret_file);
    else if (rc == 0) {
        memcpy(cfg->secret, buf, len);
        cfg->secret_len = len;
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* The sign server's API key: sent as a header, so printable ASCII only; the file may be
 * readable by others (it is less secret than the httpd secret) but not writable. */
static int read_api_key(ctx_t *c)
{
    live_config_t *cfg = c->cfg;
    int line = c->lines[key_index("sign_api_key_file")];
    unsigned char buf[API_KEY_MAX + 3];
    size_t len = 0;
    if (cfg->sign_api_key_file[0] == '\0')
        return 0;
    int rc = read_small_file(c, "sign_api_key_file", cfg->sign_api_key_file, S_IWOTH, "o-w",
                             buf, sizeof buf, &len);
    if (rc == 0 && len == 0)
        rc = fail(c, line, "sign_api_key_file %s is empty", cfg->sign_api_key_file);
    else if (rc == 0 && len > API_KEY_MAX)
        rc = fail(c, line, "sign_api_key_file %s must hold at most %d bytes",
                  cfg->sign_api_key_file, API_KEY_MAX);
    for (size_t i = 0; rc == 0 && i < len; i++)
        if (buf[i] <= ' ' || buf[i] >= 0x7F)
            rc = fail(c, line, "sign_api_key_file %s may hold printable ASCII without spaces "
                      "only (one trailing newline is allowed)", cfg->sign_api_key_file);
    if (rc == 0) {
        memcpy(cfg->sign_api_key, buf, len);
        cfg->sign_api_key[len] = '\0';
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* Checks what involves several keys, reads the secret and fills the derived defaults. */
static int finish(ctx_t *c)
{
    live_config_t *cfg = c->cfg;
    int l_hb = c->lines[key_index("heartbeat")], l_lease = c->lines[key_index("lease")];
    int l_cq = c->lines[key_index("client_queue")];
    int l_sb = c->lines[key_index("session_buffer")];
    if (c->lines[key_index("database")] == 0)
        return fail(c, 0, "database is not set (a libpq conninfo string, e.g. "
                    "database = \"host=/run/postgresql dbname=profile\")");
    if (c->lines[key_index("secret_file")] == 0)
        return fail(c, 0, "secret_file is not set (the file holding the secret shared with "
                    "httpd's ProfileSidecarSecret, at least %d bytes)", SECRET_MIN);
    if (cfg->heartbeat_s >= cfg->lease_s)
        return fail(c, l_hb > l_lease ? l_hb : l_lease,
                    "heartbeat (%d) must be less than lease (%d)", cfg->heartbeat_s,
                    cfg->lease_s);
    if (cfg->client_queue >= cfg->session_buffer)
        return fail(c, l_cq > l_sb ? l_cq : l_sb,
                    "client_queue (%d) must be less than session_buffer (%d)",
                    cfg->client_queue, cfg->session_buffer);
    int l_min = c->lines[key_index("tiktok_backoff_min_ms")];
    int l_max = c->lines[key_index("tiktok_backoff_max_ms")];
    if (cfg->tiktok_backoff_max_ms < cfg->tiktok_backoff_min_ms)
        return fail(c, l_min > l_max ? l_min : l_max, "tiktok_backoff_max_ms (%d) must be at "
                    "least tiktok_backoff_min_ms (%d)", cfg->tiktok_backoff_max_ms,
                    cfg->tiktok_backoff_min_ms);
    if (read_secret(c) != 0 || read_api_key(c) != 0)
        return -1;
    if (cfg->sidecar_id[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        int n = cfg->listen_unix[0]
            ? snprintf(cfg->sidecar_id, sizeof cfg->sidecar_id, "%.64s:%s", host,
                       cfg->listen_unix)
            : snprintf(cfg->sidecar_id, sizeof cfg->sidecar_id, "%.64s:%d", host,
                       cfg->listen_port);
        if (n < 0 || (size_t)n >= sizeof cfg->sidecar_id)
            cfg->sidecar_id[sizeof cfg->sidecar_id - 1] = '\0';   /* cut: still stable */
    }
    return 0;
}

static int config_dir(ctx_t *c)
{
    const char *slash = strrchr(c->path, '/');
    char rel[LIVE_PATH_MAX];
    size_t n = slash == NULL ? 0 : (size_t)(slash - c->path);
    if (n >= sizeof rel)
        return fail(c, 0, "path too long");
    memcpy(rel, c->path, n);
    rel[n] = '\0';
    if (slash == c->path) {
        snprintf(c->dir, sizeof c->dir, "/");
        return 0;
    }
    if (c->path[0] == '/') {
        memcpy(c->dir, rel, n + 1);
        return 0;
    }
    char cwd[LIVE_PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return fail(c, 0, "cannot find the current directory: %s", strerror(errno));
    int w = n == 0 ? snprintf(c->dir, sizeof c->dir, "%s", cwd)
                   : snprintf(c->dir, sizeof c->dir, "%s/%s", cwd, rel);
    if (w < 0 || (size_t)w >= sizeof c->dir)
        return fail(c, 0, "path too long");
    return 0;
}

int live_config_load(const char *path, live_config_t *cfg, char *err, size_t errlen)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.cfg = cfg;
    c.err = err;
    c.errlen = errlen;
    live_config_defaults(cfg);
    if (config_dir(&c) != 0)
        return -1;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return fail(&c, 0, "cannot open: %s", strerror(errno));
    int rc = read_lines(&c, f);
    fclose(f);
    if (rc == 0)
        rc = finish(&c);
    if (rc != 0) {
        explicit_bzero(cfg->secret, sizeof cfg->secret);
        cfg->secret_len = 0;
        explicit_bzero(cfg->sign_api_key, sizeof cfg->sign_api_key);
    }
    return rc;
}
