/* profile-live: the live-capture sidecar's entry point. Flags, startup in dependency order,
 * the main loop (the WebSocket server's event loop on this thread), SIGHUP reloads and the
 * SIGTERM/SIGINT drain bounded by drain_timeout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/daemon.h"
#include "core/log.h"
#include "db/coordinator.h"
#include "db/history.h"
#include "session/persister.h"
#include "session/session.h"
#include "ws/server.h"

#ifndef LIVE_VERSION
#define LIVE_VERSION "dev"
#endif
#define LIVE_DEFAULT_CONFIG "/etc/profile-live/profile-live.conf"

/* Lives as long as the process: the threads keep pointers to it. A reload copies the
 * reloadable fields into it rather than replacing it. */
static live_config_t g_cfg;
static char g_config_path[LIVE_PATH_MAX];   /* absolute: the daemon runs in / */
static int g_daemon;

enum { ST_SESSIONS = 1, ST_SERVER = 2, ST_HISTORY = 4, ST_PERSISTER = 8, ST_COORD = 16 };

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: profile-live [--config PATH] [--foreground] [--check-config]\n"
            "       profile-live --version | --help\n"
            "\n"
            "The live-capture sidecar of mod_profile: captures sessions, stores their events in\n"
            "PostgreSQL and streams them over WebSockets to httpd (loopback only).\n"
            "\n"
            "  -c, --config PATH   configuration file (default " LIVE_DEFAULT_CONFIG ")\n"
            "  -f, --foreground    stay in the foreground (systemd); otherwise daemonize, which\n"
            "                      needs log_file in the configuration\n"
            "  -t, --check-config  load and validate the configuration, then exit (0 when OK)\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "\n"
            "Signals: SIGHUP reloads the configuration and reopens log_file; SIGTERM or SIGINT\n"
            "drain (within drain_timeout seconds) and exit; a second one exits at once.\n");
}

static void describe_listen(const live_config_t *c, char *buf, size_t len)
{
    if (c->listen_unix[0])
        snprintf(buf, len, "unix:%s", c->listen_unix);
    else if (strchr(c->listen_host, ':'))
        snprintf(buf, len, "[%s]:%d", c->listen_host, c->listen_port);
    else
        snprintf(buf, len, "%s:%d", c->listen_host, c->listen_port);
}

/* Descriptors 0-2 open (on /dev/null when closed), so no file we open lands on them. */
static void ensure_std_fds(void)
{
    int fd;
    while ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

static int absolute_path(const char *path, char *out, size_t len)
{
    char cwd[LIVE_PATH_MAX];
    int n;
    if (path[0] == '/')
        n = snprintf(out, len, "%s", path);
    else if (getcwd(cwd, sizeof cwd) != NULL)
        n = snprintf(out, len, "%s/%s", cwd, path);
    else
        return -1;
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A startup failure: logged, told to the waiting parent (daemon) or to the terminal too. */
static void startup_error(const char *msg)
{
    LIVE_ERROR("startup failed: %s", msg);
    if (g_daemon)
        live_daemon_ready(msg);
    else if (g_cfg.log_file[0])
        fprintf(stderr, "profile-live: %s\n", msg);
}

static void list_add(char *list, size_t len, const char *name)
{
    size_t n = strlen(list);
    snprintf(list + n, len - n, "%s%s", n ? ", " : "", name);
}

/* SIGHUP: load the file again; on success apply what can change while running. */
static void reload(void)
{
    static live_config_t nc;     /* static: the struct is large */
    char err[1024], restart[512] = "", changed[256] = "";
    if (live_config_load(g_config_path, &nc, err, sizeof err) != 0) {
        LIVE_ERROR("reload failed, keeping the running configuration: %s", err);
        return;
    }
    if (nc.client_queue >= g_cfg.session_buffer) {
        LIVE_ERROR("reload failed, keeping the running configuration: client_queue (%d) must "
                   "be less than the running session_buffer (%d)", nc.client_queue,
                   g_cfg.session_buffer);
        goto out;
    }
#define RESTART_IF(cond, name) do { if (cond) list_add(restart, sizeof restart, name); } while (0)
    RESTART_IF(strcmp(nc.listen_host, g_cfg.listen_host) || nc.listen_port != g_cfg.listen_port
               || strcmp(nc.listen_unix, g_cfg.listen_unix), "listen");
    RESTART_IF(strcmp(nc.database, g_cfg.database), "database");
    RESTART_IF(strcmp(nc.sidecar_id, g_cfg.sidecar_id), "sidecar_id");
    RESTART_IF(strcmp(nc.secret_file, g_cfg.secret_file) || nc.secret_len != g_cfg.secret_len
               || memcmp(nc.secret, g_cfg.secret, nc.secret_len), "secret_file");
    RESTART_IF(strcmp(nc.pid_file, g_cfg.pid_file), "pid_file");
    RESTART_IF(strcmp(nc.replay_dir, g_cfg.replay_dir), "replay_dir");
    RESTART_IF(nc.lease_s != g_cfg.lease_s, "lease");
    RESTART_IF(nc.heartbeat_s != g_cfg.heartbeat_s, "heartbeat");
    RESTART_IF(nc.batch_interval_ms != g_cfg.batch_interval_ms, "batch_interval_ms");
    RESTART_IF(nc.batch_max_events != g_cfg.batch_max_events, "batch_max_events");
    RESTART_IF(nc.inbox_max_events != g_cfg.inbox_max_events, "inbox_max_events");
    RESTART_IF(nc.session_buffer != g_cfg.session_buffer, "session_buffer");
    RESTART_IF(nc.client_send_buffer != g_cfg.client_send_buffer, "client_send_buffer");
    RESTART_IF(nc.history_batch != g_cfg.history_batch, "history_batch");
    RESTART_IF(nc.db_timeout_ms != g_cfg.db_timeout_ms, "db_timeout_ms");
    /* Sessions copy these when the registry starts (session/session.c). */
    RESTART_IF(nc.replay_speed != g_cfg.replay_speed, "replay_speed");
    RESTART_IF(nc.replay_loop != g_cfg.replay_loop, "replay_loop");
    RESTART_IF(nc.max_sessions != g_cfg.max_sessions, "max_sessions");
    RESTART_IF(strcmp(nc.tiktok_www_url, g_cfg.tiktok_www_url)
               || strcmp(nc.tiktok_push_url, g_cfg.tiktok_push_url)
               || strcmp(nc.sign_url, g_cfg.sign_url)
               || strcmp(nc.sign_api_key, g_cfg.sign_api_key)
               || strcmp(nc.tiktok_user_agent, g_cfg.tiktok_user_agent)
               || nc.tiktok_timeout_ms != g_cfg.tiktok_timeout_ms
               || nc.tiktok_heartbeat_s != g_cfg.tiktok_heartbeat_s
               || nc.tiktok_reconnect_attempts != g_cfg.tiktok_reconnect_attempts
               || nc.tiktok_backoff_min_ms != g_cfg.tiktok_backoff_min_ms
               || nc.tiktok_backoff_max_ms != g_cfg.tiktok_backoff_max_ms
               || nc.tiktok_live_poll_s != g_cfg.tiktok_live_poll_s
               || nc.tiktok_malformed_limit != g_cfg.tiktok_malformed_limit, "tiktok_*/sign_*");
#undef RESTART_IF

    /* The log first, so what follows lands in the new file. Reopened even when unchanged:
     * that is how log rotation works. */
    if (g_daemon && nc.log_file[0] == '\0') {
        LIVE_ERROR("log_file cannot be emptied while running as a daemon: still logging to %s",
                   g_cfg.log_file);
        snprintf(nc.log_file, sizeof nc.log_file, "%s", g_cfg.log_file);
    }
    if (live_log_open(nc.log_file, nc.log_level) != 0) {
        LIVE_ERROR("cannot open log_file %s (%s): still logging to %s", nc.log_file,
                   strerror(errno), g_cfg.log_file[0] ? g_cfg.log_file : "stderr");
    } else if (strcmp(nc.log_file, g_cfg.log_file) != 0) {
        list_add(changed, sizeof changed, "log_file");
        memcpy(g_cfg.log_file, nc.log_file, sizeof g_cfg.log_file);
    }
    live_log_set_level(nc.log_level);

#define APPLY(field, name) do { if (nc.field != g_cfg.field) { \
        list_add(changed, sizeof changed, name); g_cfg.field = nc.field; } } while (0)
    APPLY(log_level, "log_level");
    APPLY(client_queue, "client_queue");
    APPLY(ping_interval_s, "ping_interval");
    APPLY(max_clients, "max_clients");
    APPLY(drain_timeout_s, "drain_timeout");
#undef APPLY
    live_server_reload(&g_cfg);
    LIVE_INFO("configuration reloaded from %s: %s%s", g_config_path,
              changed[0] ? "applied " : "no reloadable setting changed", changed);
    if (restart[0])
        LIVE_WARN("changed settings that need a restart (the old values stay in use): %s",
                  restart);
out:
    explicit_bzero(nc.secret, sizeof nc.secret);
    explicit_bzero(nc.sign_api_key, sizeof nc.sign_api_key);
}

static int start(unsigned *st, char *err, size_t errlen)
{
    char where[160];
    describe_listen(&g_cfg, where, sizeof where);
    if (live_sessions_init(&g_cfg) != 0) {
        snprintf(err, errlen, "cannot set up the session table");
        return -1;
    }
    *st |= ST_SESSIONS;
    if (live_server_create(&g_cfg) != 0) {
        snprintf(err, errlen, "cannot listen on %s (is it in use?)", where);
        return -1;
    }
    *st |= ST_SERVER;
    live_signals_set_wake(live_server_wake);
    if (live_history_start(&g_cfg) != 0) {
        snprintf(err, errlen, "cannot start the history thread");
        return -1;
    }
    *st |= ST_HISTORY;
    if (live_persister_start(&g_cfg) != 0) {
        snprintf(err, errlen, "cannot start the persister thread");
        return -1;
    }
    *st |= ST_PERSISTER;
    if (live_coordinator_start(&g_cfg) != 0) {
        snprintf(err, errlen, "cannot start the coordinator thread");
        return -1;
    }
    *st |= ST_COORD;
    LIVE_INFO("profile-live %s ready: listening on %s as sidecar %s", LIVE_VERSION, where,
              g_cfg.sidecar_id);
    return 0;
}

/* Stops what start() started, newest first, the drain bounded by drain_timeout: the
 * persister writes what is pending (leases released), then clients get their last frames and
 * a 1001 close. */
static void stop(unsigned st)
{
    int64_t begin = live_now_us();
    int64_t span = (int64_t)g_cfg.drain_timeout_s * 1000000;
    int64_t deadline = begin + span;
    /* Keep a little of the budget for the clients' last frames. */
    int64_t reserve = span / 4 < 1000000 ? span / 4 : 1000000;
    live_signals_set_draining();
    LIVE_INFO("draining (at most %d s)", g_cfg.drain_timeout_s);
    if (st & ST_COORD)
        live_coordinator_quiesce();
    if (st & ST_SESSIONS)
        live_sessions_stop_all(LIVE_STOP_RELEASE);
    if (st & ST_PERSISTER)
        live_persister_stop(deadline - reserve);
    if (st & ST_SERVER) {
        live_server_drain();
        while (live_server_clients() > 0 && live_now_us() < deadline)
            live_server_service();
        if (live_server_clients() > 0)
            LIVE_WARN("drain_timeout reached with %d client(s) still open",
                      live_server_clients());
    }
    if (st & ST_COORD)
        live_coordinator_stop();
    if (st & ST_HISTORY)
        live_history_stop();
    if (st & ST_SESSIONS)
        live_sessions_shutdown();
    if (st & ST_SERVER) {
        live_signals_set_wake(NULL);
        live_server_destroy();
    }
    LIVE_DEBUG("drain took %lld ms", (long long)((live_now_us() - begin) / 1000));
}

static int run(void)
{
    char err[1024], where[160];
    unsigned st = 0;
    int rc = 1;
    if (live_signals_block() != 0) {
        startup_error("cannot block signals");
        return 1;
    }
    json_object_seed(0);   /* jansson seeds its hashes lazily: do it before any thread runs */
    describe_listen(&g_cfg, where, sizeof where);
    LIVE_INFO("profile-live %s starting (pid %ld, config %s, listen %s)", LIVE_VERSION,
              (long)getpid(), g_config_path, where);
    if (g_cfg.pid_file[0]) {
        int stale = 0;
        if (live_pidfile_create(g_cfg.pid_file, &stale, err, sizeof err) != 0) {
            startup_error(err);
            return 1;
        }
        if (stale)
            LIVE_WARN("replaced the stale pid file %s (pid %d is gone)", g_cfg.pid_file, stale);
    }
    if (live_signals_start() != 0) {
        snprintf(err, sizeof err, "cannot start the signal thread: %s", strerror(errno));
        startup_error(err);
        live_pidfile_remove();
        return 1;
    }
    if (start(&st, err, sizeof err) != 0) {
        startup_error(err);
        stop(st);
        goto out;
    }
    live_daemon_ready(NULL);
    while (!live_signals_stop_requested()) {
        live_server_service();
        if (live_signals_take_reload())
            reload();
    }
    stop(st);
    rc = 0;
out:
    live_pidfile_remove();
    LIVE_INFO("%s", rc == 0 ? "stopped" : "stopped after a failed startup");
    live_signals_stop();
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",       required_argument, NULL, 'c' },
        { "foreground",   no_argument,       NULL, 'f' },
        { "check-config", no_argument,       NULL, 't' },
        { "version",      no_argument,       NULL, 'V' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *config = LIVE_DEFAULT_CONFIG;
    int foreground = 0, check = 0, c;
    char err[1024];
    while ((c = getopt_long(argc, argv, "c:ftVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': foreground = 1; break;
        case 't': check = 1; break;
        case 'V': printf("profile-live %s\n", LIVE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default:  usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "profile-live: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    ensure_std_fds();
    if (absolute_path(config, g_config_path, sizeof g_config_path) != 0) {
        fprintf(stderr, "profile-live: configuration path too long: %s\n", config);
        return 1;
    }
    if (live_config_load(g_config_path, &g_cfg, err, sizeof err) != 0) {
        fprintf(stderr, "profile-live: %s\n", err);
        return 1;
    }
    if (check) {
        printf("configuration OK: %s\n", config);
        return 0;
    }
    if (!foreground && g_cfg.log_file[0] == '\0') {
        fprintf(stderr, "profile-live: %s: log_file must be set to run as a daemon (or use "
                "--foreground to log to stderr)\n", g_config_path);
        return 1;
    }
    if (live_log_open(g_cfg.log_file, g_cfg.log_level) != 0) {
        fprintf(stderr, "profile-live: cannot open log_file %s: %s\n", g_cfg.log_file,
                strerror(errno));
        return 1;
    }
    if (!foreground) {
        if (live_daemonize(err, sizeof err) != 0) {
            fprintf(stderr, "profile-live: cannot daemonize: %s\n", err);
            return 1;
        }
        g_daemon = 1;
    }
    int rc = run();
    live_log_close();
    explicit_bzero(g_cfg.secret, sizeof g_cfg.secret);
    return rc;
}
