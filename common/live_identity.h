/* The identity httpd hands the sidecar with a proxied WebSocket upgrade, signed with the secret
 * both share (ProfileSidecarSecret / secret_file), so no other local process can pose as httpd.
 *
 *   X-Profile-Principal: key:<id> | user:<id>
 *   X-Profile-Scopes:    comments:read sessions:read …   (space separated)
 *   X-Profile-Time:      <unix seconds>
 *   X-Profile-Signature: hex HMAC-SHA256(secret, "v1\n" time "\n" principal "\n" scopes "\n"
 *                                         session_id)
 *
 * Linked by both mod_profile and profile-live: plain C and libcrypto only. */
#ifndef LIVE_IDENTITY_H
#define LIVE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_IDENTITY_SIG_LEN   64   /* hex characters */
#define LIVE_IDENTITY_MAX_SKEW  60   /* seconds either way */
#define LIVE_IDENTITY_FIELD_MAX 1024 /* principal and scopes, bytes */

/* Writes the signature (64 hex characters and a NUL) into sig[65]. -1 when a field is too
 * long or contains a newline, 0 otherwise. */
int live_identity_sign(const unsigned char *secret, size_t secret_len, int64_t time_s,
                       const char *principal, const char *scopes, const char *session_id,
                       char sig[LIVE_IDENTITY_SIG_LEN + 1]);

/* 1 when sig is the signature of the fields and time_text (decimal) lies within
 * LIVE_IDENTITY_MAX_SKEW of now_s; 0 otherwise. Compares in constant time. */
int live_identity_verify(const unsigned char *secret, size_t secret_len, int64_t now_s,
                         const char *time_text, const char *principal, const char *scopes,
                         const char *session_id, const char *sig);

/* 1 when the space-separated list holds scope exactly. */
int live_identity_has_scope(const char *scopes, const char *scope);

#endif
