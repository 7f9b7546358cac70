/* WebSocket gateway settings (config/ws_config.h): init/merge, getters with the defaults, the
 * directive handlers (which never echo a secret) and the start-up check. */
#include <apr_strings.h>
#include <string.h>

#include "config/config.h"

#define MERGE_INT(field) (add->field != PROFILE_UNSET ? add->field : base->field)
#define MERGE_PTR(field) (add->field ? add->field : base->field)

void profile_ws_server_init(profile_ws_server_config_t *c)
{
    memset(c, 0, sizeof(*c));
}

void profile_ws_server_merge(const profile_ws_server_config_t *base,
                             const profile_ws_server_config_t *add,
                             profile_ws_server_config_t *out)
{
    /* The secret and its length are set together. */
    out->secret = MERGE_PTR(secret);
    out->secret_len = add->secret ? add->secret_len : base->secret_len;
    out->enabled_at = MERGE_PTR(enabled_at);
}

void profile_ws_dir_init(profile_ws_dir_config_t *c)
{
    c->enabled = PROFILE_UNSET;
    c->max_per_key = PROFILE_UNSET;
}

void profile_ws_dir_merge(const profile_ws_dir_config_t *base, const profile_ws_dir_config_t *add,
                          profile_ws_dir_config_t *out)
{
    out->enabled = MERGE_INT(enabled);
    out->max_per_key = MERGE_INT(max_per_key);
}

int profile_ws_enabled(const profile_ws_dir_config_t *c)
{
    return c->enabled == 1;
}

int profile_ws_max_per_key(const profile_ws_dir_config_t *c)
{
    return c->max_per_key == PROFILE_UNSET ? PROFILE_DEFAULT_WS_MAX_PER_KEY : c->max_per_key;
}

int profile_ws_check_config(server_rec *s)
{
    int rc = OK;

    for (; s; s = s->next) {
        const profile_ws_server_config_t *c = &profile_server_config(s)->ws;
        if (c->enabled_at && !c->secret) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10824)
                         "ProfileWebSocket On (%s) needs ProfileSidecarSecret or "
                         "ProfileSidecarSecretFile: the secret the sidecar checks the signed "
                         "identity headers with", c->enabled_at);
            rc = !OK;
        }
    }
    return rc;
}

/* ---- directive handlers ---- */

static profile_ws_server_config_t *ws_conf(cmd_parms *cmd)
{
    return &profile_server_config(cmd->server)->ws;
}

const char *profile_set_websocket(cmd_parms *cmd, void *d, int on)
{
    profile_ws_server_config_t *sc = ws_conf(cmd);

    ((profile_dir_config_t *)d)->ws.enabled = on ? 1 : 0;
    if (on && !sc->enabled_at)
        sc->enabled_at = cmd->directive
            ? apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                           cmd->directive->line_num)
            : "ProfileWebSocket";
    return NULL;
}

const char *profile_set_websocket_max_per_key(cmd_parms *cmd, void *d, const char *arg)
{
    return profile_directive_int(cmd, arg, 0, PROFILE_WS_MAX_PER_KEY_LIMIT,
                                 &((profile_dir_config_t *)d)->ws.max_per_key);
}

/* Only the length is ever reported, never the secret. */
static const char *set_secret(cmd_parms *cmd, const unsigned char *secret, apr_size_t len)
{
    profile_ws_server_config_t *c = ws_conf(cmd);

    if (len < PROFILE_SIDECAR_SECRET_MIN || len > PROFILE_SIDECAR_SECRET_MAX)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool,
            "must be %d to %d bytes (the sidecar's secret_file holds the same), got %lu",
            PROFILE_SIDECAR_SECRET_MIN, PROFILE_SIDECAR_SECRET_MAX, (unsigned long)len));
    c->secret = secret;
    c->secret_len = len;
    return NULL;
}

const char *profile_set_sidecar_secret(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_secret(cmd, (const unsigned char *)arg, strlen(arg));
}

const char *profile_set_sidecar_secret_file(cmd_parms *cmd, void *d, const char *arg)
{
    unsigned char *data;
    apr_size_t len;
    /* Read more than a secret may hold, so a long one is told its length below. */
    const char *err = profile_directive_read_secret(cmd, arg, 4096, &data, &len);
    (void)d;
    return err ? err : set_secret(cmd, data, len);
}
