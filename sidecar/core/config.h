/* The sidecar's configuration file (conf/profile-live.conf): `key = value` lines, `#` comments.
 * Every key has a default (see live_config_defaults); a bad value names the key and line. */
#ifndef LIVE_CONFIG_H
#define LIVE_CONFIG_H

#include <stddef.h>

#define LIVE_PATH_MAX 1024

typedef enum { LIVE_LOG_DEBUG, LIVE_LOG_INFO, LIVE_LOG_WARN, LIVE_LOG_ERROR } live_log_level_t;

typedef struct {
    /* listen = 127.0.0.1:58090 | [::1]:58090 | unix:/run/profile-live/ws.sock (loopback only) */
    char listen_host[64];          /* empty when listen_unix is set */
    int  listen_port;
    char listen_unix[108];
    char database[LIVE_PATH_MAX];  /* libpq conninfo (database = "host=... dbname=...") */
    char secret_file[LIVE_PATH_MAX]; /* the secret shared with httpd's ProfileSidecarSecret */
    unsigned char secret[256];     /* its content (trailing newline removed), read at load */
    size_t secret_len;             /* at least 32 bytes */
    char pid_file[LIVE_PATH_MAX];  /* empty: none */
    char log_file[LIVE_PATH_MAX];  /* empty: stderr */
    live_log_level_t log_level;    /* log_level = debug|info|warn|error (info) */
    char sidecar_id[128];          /* default <hostname>:<port or socket>: stable across restarts */
    char replay_dir[LIVE_PATH_MAX];/* recordings for the replay source (<dir>/<name>.ndjson) */
    double replay_speed;           /* default playback speed ×N (1.0), 0.1 .. 1000 */
    int  replay_loop;              /* replay_loop = yes|no (yes) */
    int  lease_s;                  /* lease = 15: a session's lease and the sidecar's liveness */
    int  heartbeat_s;              /* heartbeat = 5: renew leases, look for work (< lease) */
    int  batch_interval_ms;        /* batch_interval_ms = 50: most time an event waits for its batch */
    int  batch_max_events;         /* batch_max_events = 500: largest batch (one transaction) */
    int  inbox_max_events;         /* inbox_max_events = 20000: events a session may have waiting
                                      for the database; a source blocks (replay) or drops (live) */
    int  session_buffer;           /* session_buffer = 4096: recent events kept in memory per session */
    int  client_queue;             /* client_queue = 1024: events a client may lag before close 4008 */
    int  client_send_buffer;       /* client_send_buffer = 65536: SO_SNDBUF per client, 0 = kernel */
    int  ping_interval_s;          /* ping_interval = 30: WebSocket ping; no pong in as long → close */
    int  max_sessions;             /* max_sessions = 100: captures this sidecar runs at once */
    int  max_clients;              /* max_clients = 10000: WebSocket clients at once */
    int  history_batch;            /* history_batch = 1000: rows per database read for ?since= */
    int  drain_timeout_s;          /* drain_timeout = 10: SIGTERM exits within this */
    int  db_timeout_ms;            /* db_timeout_ms = 5000: connect and statement timeout */

    /* The tiktok source (docs/tiktok-capture.md). Base URLs without a trailing slash. */
    char tiktok_www_url[LIVE_PATH_MAX];   /* https://www.tiktok.com (live page, room API) */
    char tiktok_push_url[LIVE_PATH_MAX];  /* empty: the fetch result's push_server */
    char sign_url[LIVE_PATH_MAX];         /* https://tiktok.eulerstream.com */
    char sign_api_key_file[LIVE_PATH_MAX];/* empty: no X-Api-Key */
    char sign_api_key[256];               /* its content, read at load */
    char tiktok_user_agent[512];          /* a current desktop Chrome */
    int  tiktok_timeout_ms;               /* tiktok_timeout_ms = 10000: each HTTP call, dial */
    int  tiktok_heartbeat_s;              /* tiktok_heartbeat = 10 when the fetch gives none */
    int  tiktok_reconnect_attempts;       /* tiktok_reconnect_attempts = 5 in a row, then failed */
    int  tiktok_backoff_min_ms;           /* tiktok_backoff_min_ms = 1000 */
    int  tiktok_backoff_max_ms;           /* tiktok_backoff_max_ms = 30000 (jittered doubling) */
    int  tiktok_live_poll_s;              /* tiktok_live_poll = 60, at least 30: wait_until_live */
    int  tiktok_malformed_limit;          /* tiktok_malformed_limit = 50 malformed messages in a
                                             row → upstream_changed */
} live_config_t;

void live_config_defaults(live_config_t *cfg);
/* Loads path over the defaults. 0 on success; -1 with a message in err naming the line. */
int live_config_load(const char *path, live_config_t *cfg, char *err, size_t errlen);

#endif
