/* The push client's TLS context (push_tls.h): TLS ≥ 1.2, the server verified against the CA
 * bundle OpenSSL would use ($SSL_CERT_FILE, its compiled-in default, the usual system
 * bundles); libwebsockets adds the host-name check (X509_VERIFY_PARAM_set1_host) and SNI per
 * connection. Our own context, not lws's global TLS init: that init, run for every push
 * context, re-allocates OpenSSL ex_data indexes that other sessions' handshakes use. */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/log.h"
#include "tiktok/push_tls.h"

static const char *ca_file(void)
{
    static const char *const known[] = { "/etc/ssl/certs/ca-certificates.crt",
                                         "/etc/pki/tls/certs/ca-bundle.crt" };
    const char *env = getenv(X509_get_default_cert_file_env());
    const char *def = X509_get_default_cert_file();

    if (env && env[0] && access(env, R_OK) == 0)
        return env;
    if (def && access(def, R_OK) == 0)
        return def;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (access(known[i], R_OK) == 0)
            return known[i];
    return NULL;
}

static SSL_CTX *client_ctx(void)
{
    const char *ca = ca_file();
    SSL_CTX *c;

    if (!(c = SSL_CTX_new(TLS_client_method())))
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if ((!ca || SSL_CTX_load_verify_locations(c, ca, NULL) != 1) &&
        SSL_CTX_set_default_verify_paths(c) != 1) {
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

struct lws_vhost *live_push_vhost(struct lws_context *ctx,
                                  const struct lws_context_creation_info *info, int tls,
                                  void **tls_ctx)
{
    struct lws_context_creation_info ti;
    struct lws_vhost *vh;

    *tls_ctx = NULL;
    vh = lws_create_vhost(ctx, info);
    if (!vh || !tls)
        return vh;
    *tls_ctx = client_ctx();
    if (!*tls_ctx)
        return NULL;
    /* lws_init_vhost_client_ssl takes a provided SSL_CTX only with this option set in the
     * info it is given; unlike lws_create_context it runs no global init for it. */
    ti = *info;
    ti.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ti.provided_client_ssl_ctx = *tls_ctx;
    return lws_init_vhost_client_ssl(&ti, vh) == 0 ? vh : NULL;
}

void live_push_tls_free(void *tls_ctx)
{
    SSL_CTX_free(tls_ctx);
}
