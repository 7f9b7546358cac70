/* The sidecar's configuration loader (defaults, syntax, ranges, loopback-only listen, the
 * secret file's rules, cross-key checks) and its ISO-8601 clock rendering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/config.h"

static char dir[64];
static char conf_path[128];
static char secret_path[128];
static char key_path[128];
static live_config_t cfg;
static char err[1024];

static void write_file(const char *path, const char *body, size_t len, mode_t mode)
{
    unlink(path);                /* it may be read-only from a previous step */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(body, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* A secret of n bytes ('s' repeated) followed by tail ("\n", "\r\n" or ""). */
static void write_secret(size_t n, const char *tail, mode_t mode)
{
    char buf[600];
    assert_true(n + strlen(tail) < sizeof buf);
    memset(buf, 's', n);
    memcpy(buf + n, tail, strlen(tail));
    write_file(secret_path, buf, n + strlen(tail), mode);
}

/* Loads "database + secret_file" followed by extra (printf-style). */
static int load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int load(const char *fmt, ...)
{
    char body[8192];
    int n = snprintf(body, sizeof body, "database = \"host=/tmp dbname=profile\"\n"
                     "secret_file = %s\n", secret_path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body + n, sizeof body - (size_t)n, fmt, ap);
    va_end(ap);
    write_file(conf_path, body, strlen(body), 0644);
    err[0] = '\0';
    return live_config_load(conf_path, &cfg, err, sizeof err);
}

static void load_raw(const char *body, int expect_ok)
{
    write_file(conf_path, body, strlen(body), 0644);
    err[0] = '\0';
    int rc = live_config_load(conf_path, &cfg, err, sizeof err);
    if (expect_ok && rc != 0)
        fail_msg("expected success, got: %s", err);
    if (!expect_ok)
        assert_int_equal(rc, -1);
}

/* The load fails and err contains every one of the given fragments. */
static void expect_error(const char *line_tag, const char *fragment)
{
    if (strstr(err, line_tag) == NULL || strstr(err, fragment) == NULL)
        fail_msg("error '%s' lacks '%s' or '%s'", err, line_tag, fragment);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/live_test_config.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(conf_path, sizeof conf_path, "%s/profile-live.conf", dir);
    snprintf(secret_path, sizeof secret_path, "%s/secret", dir);
    snprintf(key_path, sizeof key_path, "%s/sign-key", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    unlink(secret_path);
    unlink(key_path);
    rmdir(dir);
    return 0;
}

static int each(void **state)
{
    (void)state;
    write_secret(40, "\n", 0600);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    char host[256], id[300];
    assert_int_equal(load("%s", ""), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 58090);
    assert_string_equal(cfg.listen_unix, "");
    assert_string_equal(cfg.database, "host=/tmp dbname=profile");
    assert_string_equal(cfg.secret_file, secret_path);
    assert_int_equal(cfg.secret_len, 40);       /* the trailing newline is not part of it */
    assert_memory_equal(cfg.secret, "ssssssssssssssssssssssssssssssssssssssss", 40);
    assert_string_equal(cfg.pid_file, "");
    assert_string_equal(cfg.log_file, "");
    assert_int_equal(cfg.log_level, LIVE_LOG_INFO);
    assert_non_null(strstr(cfg.replay_dir, "/replay"));
    assert_true(cfg.replay_speed == 1.0);
    assert_int_equal(cfg.replay_loop, 1);
    assert_int_equal(cfg.lease_s, 15);
    assert_int_equal(cfg.heartbeat_s, 5);
    assert_int_equal(cfg.batch_interval_ms, 50);
    assert_int_equal(cfg.batch_max_events, 500);
    assert_int_equal(cfg.inbox_max_events, 20000);
    assert_int_equal(cfg.session_buffer, 4096);
    assert_int_equal(cfg.client_queue, 1024);
    assert_int_equal(cfg.client_send_buffer, 65536);
    assert_int_equal(cfg.ping_interval_s, 30);
    assert_int_equal(cfg.max_sessions, 100);
    assert_int_equal(cfg.max_clients, 10000);
    assert_int_equal(cfg.history_batch, 1000);
    assert_int_equal(cfg.drain_timeout_s, 10);
    assert_int_equal(cfg.db_timeout_ms, 5000);
    assert_int_equal(gethostname(host, sizeof host), 0);
    snprintf(id, sizeof id, "%s:58090", host);
    assert_string_equal(cfg.sidecar_id, id);
    assert_string_equal(cfg.tiktok_www_url, "https://www.tiktok.com");
    assert_string_equal(cfg.tiktok_push_url, "");
    assert_string_equal(cfg.sign_url, "https://tiktok.eulerstream.com");
    assert_string_equal(cfg.sign_api_key_file, "");
    assert_string_equal(cfg.sign_api_key, "");
    assert_non_null(strstr(cfg.tiktok_user_agent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"));
    assert_non_null(strstr(cfg.tiktok_user_agent, " Chrome/"));
    assert_int_equal(cfg.tiktok_timeout_ms, 10000);
    assert_int_equal(cfg.tiktok_heartbeat_s, 10);
    assert_int_equal(cfg.tiktok_reconnect_attempts, 5);
    assert_int_equal(cfg.tiktok_backoff_min_ms, 1000);
    assert_int_equal(cfg.tiktok_backoff_max_ms, 30000);
    assert_int_equal(cfg.tiktok_live_poll_s, 60);
    assert_int_equal(cfg.tiktok_malformed_limit, 50);
}

static void test_every_key(void **state)
{
    (void)state;
    assert_int_equal(load(
        "# a comment\n"
        "   # an indented comment\n"
        "\n"
        "listen = localhost:58091   # trailing comment\n"
        "pid_file = \"run/live.pid\"\n"
        "log_file = /var/log/live.log\n"
        "log_level = DEBUG\n"
        "sidecar_id = node-a:1\n"
        "replay_dir = replays\n"
        "replay_speed = 2.5\n"
        "replay_loop = no\r\n"
        "lease = 30\n"
        "heartbeat = 10\n"
        "batch_interval_ms = 20\n"
        "batch_max_events = 100\n"
        "inbox_max_events = 5000\n"
        "session_buffer = 2048\n"
        "client_queue = 256\n"
        "client_send_buffer = 0\n"
        "ping_interval = 15\n"
        "max_sessions = 7\n"
        "max_clients = 99\n"
        "history_batch = 50\n"
        "drain_timeout = 3\n"
        "db_timeout_ms = 1500"), 0);
    char path[256];
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 58091);
    snprintf(path, sizeof path, "%s/run/live.pid", dir);  /* relative to the config's dir */
    assert_string_equal(cfg.pid_file, path);
    assert_string_equal(cfg.log_file, "/var/log/live.log");
    assert_int_equal(cfg.log_level, LIVE_LOG_DEBUG);
    assert_string_equal(cfg.sidecar_id, "node-a:1");
    snprintf(path, sizeof path, "%s/replays", dir);
    assert_string_equal(cfg.replay_dir, path);
    assert_true(cfg.replay_speed == 2.5);
    assert_int_equal(cfg.replay_loop, 0);
    assert_int_equal(cfg.lease_s, 30);
    assert_int_equal(cfg.heartbeat_s, 10);
    assert_int_equal(cfg.batch_interval_ms, 20);
    assert_int_equal(cfg.batch_max_events, 100);
    assert_int_equal(cfg.inbox_max_events, 5000);
    assert_int_equal(cfg.session_buffer, 2048);
    assert_int_equal(cfg.client_queue, 256);
    assert_int_equal(cfg.client_send_buffer, 0);
    assert_int_equal(cfg.ping_interval_s, 15);
    assert_int_equal(cfg.max_sessions, 7);
    assert_int_equal(cfg.max_clients, 99);
    assert_int_equal(cfg.history_batch, 50);
    assert_int_equal(cfg.drain_timeout_s, 3);
    assert_int_equal(cfg.db_timeout_ms, 1500);
}

static void test_quotes(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body,
             "database = \"host=/tmp password='a#b' application_name=\\\"x\\\\y\\\"\"  # c\n"
             "secret_file = \"%s\"\nlog_file = \"\"\n", secret_path);
    load_raw(body, 1);
    assert_string_equal(cfg.database, "host=/tmp password='a#b' application_name=\"x\\y\"");
    assert_string_equal(cfg.log_file, "");
    /* An unquoted '#' not preceded by a space belongs to the value. */
    snprintf(body, sizeof body, "database = a#b\nsecret_file = %s\n", secret_path);
    load_raw(body, 1);
    assert_string_equal(cfg.database, "a#b");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_int_equal(load("\nfoo = 1\n"), -1);
    expect_error(":4:", "unknown key 'foo'");
    assert_int_equal(load("listen\n"), -1);
    expect_error(":3:", "expected 'key = value'");
    assert_int_equal(load("= 5\n"), -1);
    expect_error(":3:", "expected 'key = value'");
    assert_int_equal(load("log_file = \"/tmp/x\n"), -1);
    expect_error(":3:", "unterminated");
    assert_int_equal(load("log_file = \"/tmp/x\" y\n"), -1);
    expect_error(":3:", "after the closing quote");
    assert_int_equal(load("lease = 20\nlease = 30\n"), -1);
    expect_error(":4:", "already set on line 3");
    assert_int_equal(load("replay_dir =\n"), -1);
    expect_error(":3:", "replay_dir needs a value");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(load("replay_dir = %s\n", big), -1);
    expect_error(":3:", "line too long");
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_int_equal(live_config_load("/nonexistent/profile-live.conf", &cfg, err, sizeof err), -1);
    expect_error("/nonexistent/profile-live.conf", "cannot open");
}

static void test_required_keys(void **state)
{
    (void)state;
    char body[256];
    snprintf(body, sizeof body, "secret_file = %s\n", secret_path);
    load_raw(body, 0);
    expect_error(conf_path, "database is not set");
    load_raw("database = dbname=x\n", 0);
    expect_error(conf_path, "secret_file is not set");
}

static void test_integer_ranges(void **state)
{
    (void)state;
    static const struct { const char *key; long min, max; } r[] = {
        { "lease", 2, 3600 }, { "heartbeat", 1, 3600 }, { "batch_interval_ms", 1, 10000 },
        { "batch_max_events", 1, 100000 }, { "inbox_max_events", 100, 10000000 },
        { "session_buffer", 16, 1000000 }, { "client_queue", 1, 1000000 },
        { "client_send_buffer", 0, 16777216 }, { "ping_interval", 1, 3600 },
        { "max_sessions", 1, 10000 }, { "max_clients", 1, 1000000 },
        { "history_batch", 1, 100000 }, { "drain_timeout", 1, 300 },
        { "db_timeout_ms", 100, 600000 }, { "tiktok_timeout_ms", 1000, 120000 },
        { "tiktok_heartbeat", 1, 60 }, { "tiktok_reconnect_attempts", 1, 100 },
        { "tiktok_backoff_min_ms", 10, 60000 }, { "tiktok_backoff_max_ms", 10, 600000 },
        { "tiktok_live_poll", 30, 3600 }, { "tiktok_malformed_limit", 1, 100000 },
    };
    char range[64];
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        snprintf(range, sizeof range, "%s must be an integer between %ld and %ld", r[i].key,
                 r[i].min, r[i].max);
        assert_int_equal(load("\n%s = %ld\n", r[i].key, r[i].min - 1), -1);
        expect_error(":4:", range);
        assert_int_equal(load("%s = %ld\n", r[i].key, r[i].max + 1), -1);
        expect_error(":3:", range);
        assert_int_equal(load("%s = 12abc\n", r[i].key), -1);
        expect_error(":3:", "got '12abc'");
        assert_int_equal(load("%s = 99999999999999999999\n", r[i].key), -1);
        expect_error(":3:", range);
    }
    /* The bounds themselves are accepted (where the cross-key rules allow them). */
    assert_int_equal(load("batch_max_events = 100000\ndb_timeout_ms = 100\n"), 0);
    assert_int_equal(cfg.batch_max_events, 100000);
}

static void test_other_values(void **state)
{
    (void)state;
    assert_int_equal(load("replay_speed = 0.05\n"), -1);
    expect_error(":3:", "replay_speed must be a number between 0.1 and 1000");
    assert_int_equal(load("replay_speed = 1000.5\n"), -1);
    expect_error(":3:", "replay_speed");
    assert_int_equal(load("replay_speed = nan\n"), -1);
    expect_error(":3:", "replay_speed");
    assert_int_equal(load("replay_speed = 0.1\n"), 0);
    assert_int_equal(load("replay_loop = maybe\n"), -1);
    expect_error(":3:", "replay_loop must be yes or no");
    assert_int_equal(load("replay_loop = On\n"), 0);
    assert_int_equal(cfg.replay_loop, 1);
    assert_int_equal(load("log_level = loud\n"), -1);
    expect_error(":3:", "log_level must be debug, info, warn or error");
    assert_int_equal(load("log_level = warning\n"), 0);
    assert_int_equal(cfg.log_level, LIVE_LOG_WARN);
    assert_int_equal(load("sidecar_id = a b\n"), -1);
    expect_error(":3:", "sidecar_id");
    /* A conninfo string is never echoed: it may hold a password. */
    char big[1200];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "password=hunter2 ", 17);
    char body[2048];
    snprintf(body, sizeof body, "secret_file = %s\ndatabase = %s\n", secret_path, big);
    load_raw(body, 0);
    expect_error(":2:", "database is too long");
    assert_null(strstr(err, "hunter2"));
}

static void test_listen_loopback(void **state)
{
    (void)state;
    assert_int_equal(load("listen = 127.0.0.1:1\n"), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 1);
    assert_int_equal(load("listen = 127.1.2.3:65535\n"), 0);
    assert_string_equal(cfg.listen_host, "127.1.2.3");
    assert_int_equal(cfg.listen_port, 65535);
    assert_int_equal(load("listen = LOCALHOST:8080\n"), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(load("listen = [::1]:9000\n"), 0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 9000);
    assert_string_equal(cfg.listen_unix, "");

    static const char *refused[] = {
        "0.0.0.0:80", "192.168.1.10:58090", "10.0.0.1:1", "[::]:80", "[2001:db8::1]:80",
        "example.com:80", "[::ffff:127.0.0.1]:80", ":80",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(load("listen = %s\n", refused[i]), -1);
        expect_error(":3:", "not a loopback address");
    }
    static const char *malformed[] = {
        "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:+80",
        "[::1]", "[::1]80", "unix:",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        assert_int_equal(load("listen = %s\n", malformed[i]), -1);
        expect_error(":3:", "listen");
    }
}

static void test_listen_unix(void **state)
{
    (void)state;
    char host[256], id[400], path[200];
    assert_int_equal(gethostname(host, sizeof host), 0);
    assert_int_equal(load("listen = unix:/run/profile-live/ws.sock\n"), 0);
    assert_string_equal(cfg.listen_unix, "/run/profile-live/ws.sock");
    assert_string_equal(cfg.listen_host, "");
    assert_int_equal(cfg.listen_port, 0);
    snprintf(id, sizeof id, "%s:/run/profile-live/ws.sock", host);
    assert_string_equal(cfg.sidecar_id, id);
    /* Relative: next to the configuration file. */
    assert_int_equal(load("listen = unix:ws.sock\n"), 0);
    snprintf(path, sizeof path, "%s/ws.sock", dir);
    assert_string_equal(cfg.listen_unix, path);
    /* Longer than sun_path. */
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(load("listen = unix:%s\n", longp), -1);
    expect_error(":3:", "path too long");
}

static void test_secret_rules(void **state)
{
    (void)state;
    write_secret(32, "\n", 0600);                  /* the shortest accepted */
    assert_int_equal(load("%s", ""), 0);
    assert_int_equal(cfg.secret_len, 32);
    write_secret(256, "\r\n", 0640);               /* the longest; CRLF stripped; group ok */
    assert_int_equal(load("%s", ""), 0);
    assert_int_equal(cfg.secret_len, 256);
    write_secret(40, "", 0400);                    /* no newline at all */
    assert_int_equal(load("%s", ""), 0);
    assert_int_equal(cfg.secret_len, 40);
    write_secret(40, "\n\n", 0600);                /* only one newline is stripped */
    assert_int_equal(load("%s", ""), 0);
    assert_int_equal(cfg.secret_len, 41);

    write_secret(31, "\n", 0600);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "at least 32 bytes (it has 31)");
    write_secret(257, "\n", 0600);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "at most 256 bytes");
    write_secret(40, "\n", 0644);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "accessible by other users (mode 0644)");
    assert_int_equal(cfg.secret_len, 0);
    write_secret(40, "\n", 0602);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "other users");
    char body[256];
    write_file(secret_path, "0123456789abcdef\0000123456789abcdef\n", 34, 0600);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "NUL byte");

    unlink(secret_path);
    assert_int_equal(load("%s", ""), -1);
    expect_error(":2:", "No such file");
    snprintf(body, sizeof body, "database = x\nsecret_file = %s\n", dir);
    load_raw(body, 0);
    expect_error(":2:", "not a regular file");
    /* A relative secret_file is found next to the configuration. */
    write_secret(40, "\n", 0600);
    load_raw("database = x\nsecret_file = secret\n", 1);
    assert_string_equal(cfg.secret_file, secret_path);
}

static void test_cross_key_rules(void **state)
{
    (void)state;
    assert_int_equal(load("lease = 10\nheartbeat = 10\n"), -1);
    expect_error(":4:", "heartbeat (10) must be less than lease (10)");
    assert_int_equal(load("heartbeat = 20\n"), -1);           /* default lease 15 */
    expect_error(":3:", "heartbeat (20) must be less than lease (15)");
    assert_int_equal(load("lease = 4\n"), -1);                /* default heartbeat 5 */
    expect_error(":3:", "less than lease (4)");
    assert_int_equal(load("lease = 3\nheartbeat = 2\n"), 0);
    assert_int_equal(load("client_queue = 4096\n"), -1);
    expect_error(":3:", "client_queue (4096) must be less than session_buffer (4096)");
    assert_int_equal(load("client_queue = 100\nsession_buffer = 64\n"), -1);
    expect_error(":4:", "client_queue (100) must be less than session_buffer (64)");
    assert_int_equal(load("client_queue = 63\nsession_buffer = 64\n"), 0);
}

static void test_tiktok_keys(void **state)
{
    (void)state;
    write_file(key_path, "euler_KEY-123\n", 14, 0644);     /* readable by others is fine */
    assert_int_equal(load(
        "tiktok_www_url = http://127.0.0.1:18080/\n"
        "tiktok_push_url = ws://127.0.0.1:18081/webcast/im/ws_proxy/\n"
        "sign_url = https://sign.example.com/v1\n"
        "sign_api_key_file = sign-key\n"
        "tiktok_user_agent = \"Mozilla/5.0 (X11; Linux x86_64) Test/1.0\"\n"
        "tiktok_timeout_ms = 1000\n"
        "tiktok_heartbeat = 60\n"
        "tiktok_reconnect_attempts = 100\n"
        "tiktok_backoff_min_ms = 10\n"
        "tiktok_backoff_max_ms = 10\n"
        "tiktok_live_poll = 30\n"
        "tiktok_malformed_limit = 100000\n"), 0);
    assert_string_equal(cfg.tiktok_www_url, "http://127.0.0.1:18080");   /* slash removed */
    assert_string_equal(cfg.tiktok_push_url, "ws://127.0.0.1:18081/webcast/im/ws_proxy/");
    assert_string_equal(cfg.sign_url, "https://sign.example.com/v1");
    assert_string_equal(cfg.sign_api_key_file, key_path);    /* relative to the config */
    assert_string_equal(cfg.sign_api_key, "euler_KEY-123");  /* newline removed */
    assert_string_equal(cfg.tiktok_user_agent, "Mozilla/5.0 (X11; Linux x86_64) Test/1.0");
    assert_int_equal(cfg.tiktok_timeout_ms, 1000);
    assert_int_equal(cfg.tiktok_heartbeat_s, 60);
    assert_int_equal(cfg.tiktok_reconnect_attempts, 100);
    assert_int_equal(cfg.tiktok_backoff_min_ms, 10);
    assert_int_equal(cfg.tiktok_backoff_max_ms, 10);
    assert_int_equal(cfg.tiktok_live_poll_s, 30);
    assert_int_equal(cfg.tiktok_malformed_limit, 100000);
    /* Empty values: no push override, no key; a key given twice is refused. */
    assert_int_equal(load("tiktok_push_url =\nsign_api_key_file = \"\"\n"
                          "tiktok_push_url = wss://x\n"), -1);
    expect_error(":5:", "already set on line 3");
    assert_int_equal(load("tiktok_push_url =\nsign_api_key_file = \"\"\n"
                          "tiktok_www_url = https://tiktok.test\nsign_url = http://s:1/\n"), 0);
    assert_string_equal(cfg.tiktok_push_url, "");
    assert_string_equal(cfg.sign_api_key_file, "");
    assert_string_equal(cfg.sign_api_key, "");
    assert_string_equal(cfg.tiktok_www_url, "https://tiktok.test");
    assert_string_equal(cfg.sign_url, "http://s:1");
    assert_int_equal(load("tiktok_push_url = wss://push.example/ws?x=1\n"), 0);
    assert_string_equal(cfg.tiktok_push_url, "wss://push.example/ws?x=1");
}

static void test_tiktok_urls(void **state)
{
    (void)state;
    static const struct { const char *key, *value, *error; } bad[] = {
        { "tiktok_www_url", "ftp://www.tiktok.com", "must start with http:// or https://" },
        { "tiktok_www_url", "www.tiktok.com", "must start with http:// or https://" },
        { "tiktok_www_url", "HTTPS://www.tiktok.com", "must start with http://" },
        { "sign_url", "wss://sign.example", "must start with http:// or https://" },
        { "sign_url", "https://", "has no host name" },
        { "sign_url", "https:///path", "has no host name" },
        { "sign_url", "https://sign.example/?apiKey=1", "query (?) or fragment (#)" },
        { "sign_url", "https://sign.example/a#b", "query (?) or fragment (#)" },
        { "tiktok_www_url", "https://www.tiktok.com//", "more than one slash" },
        { "tiktok_www_url", "\"https://www.tik tok.com\"", "spaces or control characters" },
        { "tiktok_www_url", "https://www.tiktok.com/\x01", "spaces or control characters" },
        { "tiktok_www_url", "https://b\xc3\xa4r.de", "spaces or control characters" },
        { "tiktok_push_url", "https://push.example/ws", "must start with ws:// or wss://" },
        { "tiktok_push_url", "wss://", "has no host name" },
        { "tiktok_www_url", "", "tiktok_www_url needs a value" },
        { "sign_url", "\"\"", "sign_url needs a value" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(load("%s = %s\n", bad[i].key, bad[i].value), -1);
        expect_error(":3:", bad[i].key);
        expect_error(":3:", bad[i].error);
    }
    /* A password in a URL is never echoed. */
    assert_int_equal(load("sign_url = ftp://user:hunter2@proxy\n"), -1);
    assert_null(strstr(err, "hunter2"));
    /* 1023 bytes (after the slash is removed) fit, 1024 do not. */
    char url[1100];
    memcpy(url, "https://h/", 10);
    memset(url + 10, 'a', 1013);
    url[1023] = '/';
    url[1024] = '\0';
    assert_int_equal(load("sign_url = %s\n", url), 0);
    assert_int_equal(strlen(cfg.sign_url), 1023);
    url[1023] = 'a';
    assert_int_equal(load("sign_url = %s\n", url), -1);
    expect_error(":3:", "sign_url is too long (at most 1023 bytes)");
    memcpy(url, "wss://h", 7);
    assert_int_equal(load("tiktok_push_url = %s\n", url), -1);
    expect_error(":3:", "tiktok_push_url is too long");
}

static void test_tiktok_other(void **state)
{
    (void)state;
    /* The backoff's max is at least its min; the error names the later line. */
    assert_int_equal(load("tiktok_backoff_max_ms = 500\n"), -1);      /* default min 1000 */
    expect_error(":3:", "tiktok_backoff_max_ms (500) must be at least tiktok_backoff_min_ms "
                 "(1000)");
    assert_int_equal(load("tiktok_backoff_max_ms = 2000\ntiktok_backoff_min_ms = 2001\n"), -1);
    expect_error(":4:", "(2000) must be at least tiktok_backoff_min_ms (2001)");
    assert_int_equal(load("tiktok_backoff_min_ms = 60000\n"), -1);    /* default max 30000 */
    expect_error(":3:", "must be at least");
    assert_int_equal(load("tiktok_backoff_min_ms = 60000\ntiktok_backoff_max_ms = 600000\n"),
                     0);
    /* The user agent: printable ASCII, at most 511 bytes, not empty. */
    assert_int_equal(load("tiktok_user_agent =\n"), -1);
    expect_error(":3:", "tiktok_user_agent needs a value");
    assert_int_equal(load("tiktok_user_agent = Mozilla\x01\n"), -1);
    expect_error(":3:", "tiktok_user_agent may hold printable ASCII only");
    assert_int_equal(load("tiktok_user_agent = Caf\xc3\xa9\n"), -1);
    expect_error(":3:", "printable ASCII");
    char ua[600];
    memset(ua, 'u', 511);
    ua[511] = '\0';
    assert_int_equal(load("tiktok_user_agent = %s\n", ua), 0);
    assert_int_equal(strlen(cfg.tiktok_user_agent), 511);
    memset(ua, 'u', 512);
    ua[512] = '\0';
    assert_int_equal(load("tiktok_user_agent = %s\n", ua), -1);
    expect_error(":3:", "tiktok_user_agent is too long (at most 511 bytes)");
}

static void test_sign_api_key_file(void **state)
{
    (void)state;
    char key[300];
    memset(key, 'k', sizeof key);
    key[255] = '\n';
    write_file(key_path, key, 256, 0600);                      /* the longest: 255 bytes */
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), 0);
    assert_int_equal(strlen(cfg.sign_api_key), 255);
    write_file(key_path, "abc\r\n", 5, 0664);                 /* CRLF; group-writable ok */
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), 0);
    assert_string_equal(cfg.sign_api_key, "abc");
    write_file(key_path, "abc", 3, 0444);                      /* no newline */
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), 0);
    assert_string_equal(cfg.sign_api_key, "abc");

    write_file(key_path, key, 257, 0600);                      /* 256 bytes + newline */
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), -1);
    expect_error(":3:", "at most 255 bytes");
    write_file(key_path, "secretkey\n", 10, 0646);
    assert_int_equal(load("\nsign_api_key_file = %s\n", key_path), -1);
    expect_error(":4:", "writable by other users (mode 0646): chmod o-w it");
    assert_string_equal(cfg.sign_api_key, "");                 /* wiped on failure */
    write_file(key_path, "\n", 1, 0600);
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), -1);
    expect_error(":3:", "is empty");
    static const char *bad[] = { "hun ter2", "hunter2\n\n", "hun\0ter2", "hun\tter2",
                                 "h\xc3\xa9" "unter2" };
    static const size_t bad_len[] = { 8, 9, 8, 8, 9 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(key_path, bad[i], bad_len[i], 0600);
        assert_int_equal(load("sign_api_key_file = %s\n", key_path), -1);
        expect_error(":3:", "printable ASCII without spaces");
        assert_null(strstr(err, "hunter"));                   /* the key is never echoed */
        assert_null(strstr(err, "ter2"));
    }
    unlink(key_path);
    assert_int_equal(load("sign_api_key_file = %s\n", key_path), -1);
    expect_error(":3:", "No such file");
    assert_int_equal(load("sign_api_key_file = %s\n", dir), -1);
    expect_error(":3:", "not a regular file");
}

static void test_iso8601(void **state)
{
    (void)state;
    char buf[32];
    live_iso8601_ms(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    live_iso8601_ms(INT64_C(1795514400123456), buf, sizeof buf);
    assert_string_equal(buf, "2026-11-24T10:00:00.123Z");   /* milliseconds, truncated */
    live_iso8601_ms(INT64_C(951868799999999), buf, sizeof buf);
    assert_string_equal(buf, "2000-02-29T23:59:59.999Z");
    live_iso8601_ms(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    live_iso8601_ms(-1000000, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.000Z");
    live_iso8601_ms(0, buf, 25);                              /* the documented minimum */
    assert_int_equal(strlen(buf), 24);
    memset(buf, 'x', sizeof buf);
    live_iso8601_ms(0, buf, 8);                               /* too small: cut, terminated */
    assert_string_equal(buf, "1970-01");
    int64_t now = live_now_us();
    assert_true(now > INT64_C(1700000000000000));
    live_iso8601_ms(now, buf, sizeof buf);
    assert_int_equal(strlen(buf), 24);
    assert_int_equal(buf[23], 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, each),
        cmocka_unit_test_setup(test_every_key, each),
        cmocka_unit_test_setup(test_quotes, each),
        cmocka_unit_test_setup(test_syntax_errors, each),
        cmocka_unit_test_setup(test_missing_file, each),
        cmocka_unit_test_setup(test_required_keys, each),
        cmocka_unit_test_setup(test_integer_ranges, each),
        cmocka_unit_test_setup(test_other_values, each),
        cmocka_unit_test_setup(test_listen_loopback, each),
        cmocka_unit_test_setup(test_listen_unix, each),
        cmocka_unit_test_setup(test_secret_rules, each),
        cmocka_unit_test_setup(test_cross_key_rules, each),
        cmocka_unit_test_setup(test_tiktok_keys, each),
        cmocka_unit_test_setup(test_tiktok_urls, each),
        cmocka_unit_test_setup(test_tiktok_other, each),
        cmocka_unit_test_setup(test_sign_api_key_file, each),
        cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests_name("live_config", tests, setup, teardown);
}
