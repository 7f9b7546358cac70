/* TLS for the push client (push.c). libwebsockets 4.1 keeps its OpenSSL ex_data indexes in
 * process-wide variables that every lws_create_context with LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT
 * re-allocates; its certificate-verify callback and its client SSL_CTX clean-up read them. With
 * one client context per connection on several session threads that breaks other sessions'
 * handshakes and leaks their SSL_CTX (seen under valgrind). So push contexts are created
 * without that option, and their vhost gets a client SSL_CTX of ours (verifying against the
 * system CA store), which lws neither inspects through those indexes nor frees. */
#ifndef LIVE_PUSH_TLS_H
#define LIVE_PUSH_TLS_H

#include <libwebsockets.h>

/* The vhost of a client context created with LWS_SERVER_OPTION_EXPLICIT_VHOSTS (from the same
 * info). With tls, *tls_ctx receives its client TLS context: release it with
 * live_push_tls_free after lws_context_destroy. NULL on failure (*tls_ctx may still be set). */
struct lws_vhost *live_push_vhost(struct lws_context *ctx,
                                  const struct lws_context_creation_info *info, int tls,
                                  void **tls_ctx);
void live_push_tls_free(void *tls_ctx);

#endif
