/* Endpoint handlers, one file per group. Each returns what profile_send_* returned. */
#ifndef PROFILE_HANDLERS_H
#define PROFILE_HANDLERS_H

#include "routes/request.h"

/* handlers/health.c */
int profile_handle_healthcheck(profile_request_t *pr);
int profile_handle_health_live(profile_request_t *pr);
int profile_handle_health_ready(profile_request_t *pr);

/* handlers/monitoring.c */
int profile_handle_monitoring_ping(profile_request_t *pr);
int profile_handle_monitoring_detailed(profile_request_t *pr);
int profile_handle_monitoring_metrics(profile_request_t *pr);

/* handlers/auth.c */
int profile_handle_auth_register(profile_request_t *pr);
int profile_handle_auth_login(profile_request_t *pr);
int profile_handle_auth_refresh(profile_request_t *pr);
int profile_handle_auth_logout(profile_request_t *pr);

/* handlers/account.c */
int profile_handle_auth_me(profile_request_t *pr);
int profile_handle_auth_me_update(profile_request_t *pr);
int profile_handle_auth_sessions(profile_request_t *pr);
int profile_handle_auth_session_delete(profile_request_t *pr);

/* handlers/keys.c */
int profile_handle_keys_list(profile_request_t *pr);
int profile_handle_keys_generate(profile_request_t *pr);
int profile_handle_keys_revoke(profile_request_t *pr);
int profile_handle_keys_rotate(profile_request_t *pr);

/* handlers/users.c */
int profile_handle_users_list(profile_request_t *pr);
int profile_handle_user_get(profile_request_t *pr);
int profile_handle_user_update(profile_request_t *pr);
int profile_handle_user_delete(profile_request_t *pr);

/* handlers/audit.c */
int profile_handle_admin_audit(profile_request_t *pr);

/* handlers/ratelimit_admin.c */
int profile_handle_admin_rate_limits(profile_request_t *pr);

/* handlers/profiles.c */
int profile_handle_profile_get(profile_request_t *pr);
int profile_handle_profiles_revalidate(profile_request_t *pr);
int profile_handle_profiles_revalidate_status(profile_request_t *pr);

/* handlers/cache_admin.c */
int profile_handle_cache_stats(profile_request_t *pr);
int profile_handle_cache_clear_expired(profile_request_t *pr);
int profile_handle_cache_profile_delete(profile_request_t *pr);

/* handlers/sessions.c */
int profile_handle_connect(profile_request_t *pr);
int profile_handle_disconnect(profile_request_t *pr);
int profile_handle_sessions_list(profile_request_t *pr);
int profile_handle_session_get(profile_request_t *pr);
int profile_handle_sessions_cleanup(profile_request_t *pr);
int profile_handle_session_comments(profile_request_t *pr);

/* handlers/status.c */
int profile_handle_status(profile_request_t *pr);

/* handlers/avatars.c */
int profile_handle_avatar_generated(profile_request_t *pr);
int profile_handle_avatar_initials(profile_request_t *pr);

#endif
