/* WebSocket gateway settings: `ProfileWebSocket On|Off` and `ProfileWebSocketMaxPerKey` per
 * directory (the <Location> that proxies to the sidecar), the secret shared with the sidecar
 * (`ProfileSidecarSecret` / `ProfileSidecarSecretFile`) per server. Unset: PROFILE_UNSET /
 * NULL; defaults in the getters. */
#ifndef PROFILE_WS_CONFIG_H
#define PROFILE_WS_CONFIG_H

#include <apr_pools.h>
#include <httpd.h>
#include <http_config.h>

#define PROFILE_DEFAULT_WS_MAX_PER_KEY 10
#define PROFILE_WS_MAX_PER_KEY_LIMIT   100000
#define PROFILE_SIDECAR_SECRET_MIN     32
/* The sidecar keeps at most 256 bytes of its secret file (sidecar/core/config.h). */
#define PROFILE_SIDECAR_SECRET_MAX     256

typedef struct {
    const unsigned char *secret;   /* ProfileSidecarSecret(File), 32..256 bytes; NULL unset */
    apr_size_t secret_len;
    /* Where `ProfileWebSocket On` was first seen in this server's sections ("file:line"), so
     * check_config can insist on a secret; NULL when it never was. Merged like a setting. */
    const char *enabled_at;
} profile_ws_server_config_t;

typedef struct {
    int enabled;                   /* ProfileWebSocket On|Off, default Off */
    int max_per_key;               /* ProfileWebSocketMaxPerKey 0..100000, default 10 (0: no cap) */
} profile_ws_dir_config_t;

void profile_ws_server_init(profile_ws_server_config_t *c);
void profile_ws_server_merge(const profile_ws_server_config_t *base,
                             const profile_ws_server_config_t *add,
                             profile_ws_server_config_t *out);
void profile_ws_dir_init(profile_ws_dir_config_t *c);
void profile_ws_dir_merge(const profile_ws_dir_config_t *base, const profile_ws_dir_config_t *add,
                          profile_ws_dir_config_t *out);

int profile_ws_enabled(const profile_ws_dir_config_t *c);
int profile_ws_max_per_key(const profile_ws_dir_config_t *c);

/* check_config (runs for apachectl -t too): ProfileWebSocket On needs a sidecar secret in
 * every server where it applies. OK or !OK (logged). */
int profile_ws_check_config(server_rec *s);

const char *profile_set_websocket(cmd_parms *cmd, void *d, int on);
const char *profile_set_websocket_max_per_key(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_sidecar_secret(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_sidecar_secret_file(cmd_parms *cmd, void *d, const char *arg);

#define PROFILE_WS_DIRECTIVES \
    AP_INIT_FLAG("ProfileWebSocket", profile_set_websocket, NULL, ACCESS_CONF, \
        "On|Off, in the <Location> proxied to the live sidecar: check, count and sign its " \
        "WebSocket upgrades (default Off)"), \
    AP_INIT_TAKE1("ProfileWebSocketMaxPerKey", profile_set_websocket_max_per_key, NULL, \
        RSRC_CONF | ACCESS_CONF, "open WebSocket streams per key or user across the server, " \
        "0..100000, 0 = no cap (default 10)"), \
    AP_INIT_TAKE1("ProfileSidecarSecret", profile_set_sidecar_secret, NULL, RSRC_CONF, \
        "secret shared with the live sidecar, 32..256 bytes"), \
    AP_INIT_TAKE1("ProfileSidecarSecretFile", profile_set_sidecar_secret_file, NULL, RSRC_CONF, \
        "file holding the secret shared with the live sidecar, 32..256 bytes")

#endif
