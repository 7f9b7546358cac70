/* The route table: every endpoint, its method, handler and minimum authentication.
 * Each route also answers under PROFILE_API_PREFIX. */
#include <apr_strings.h>

#include "profile.h"
#include "routes/routes.h"
#include "handlers/handlers.h"

const profile_route_t profile_routes[] = {
    { M_GET,    "/healthcheck",                profile_handle_healthcheck,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/health/live",                profile_handle_health_live,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/health/ready",               profile_handle_health_ready,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/monitoring/ping",            profile_handle_monitoring_ping,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/monitoring/detailed",        profile_handle_monitoring_detailed,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/monitoring/metrics",         profile_handle_monitoring_metrics,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/monitoring/cache/stats",     profile_handle_cache_stats,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_CACHE_ADMIN },

    { M_GET,    "/profile/{username}",         profile_handle_profile_get,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_PROFILES_READ },
    { M_POST,   "/profiles/revalidate",        profile_handle_profiles_revalidate,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_PROFILES_WRITE },
    { M_GET,    "/profiles/revalidate/{job_id}", profile_handle_profiles_revalidate_status,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_PROFILES_WRITE },
    { M_GET,    "/status",                     profile_handle_status,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_POST,   "/connect",                    profile_handle_connect,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_SESSIONS_WRITE },
    { M_POST,   "/disconnect",                 profile_handle_disconnect,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_SESSIONS_WRITE },
    { M_GET,    "/sessions",                   profile_handle_sessions_list,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_SESSIONS_READ },
    { M_POST,   "/sessions/cleanup",           profile_handle_sessions_cleanup,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_SESSIONS_WRITE },
    { M_GET,    "/sessions/{id}",              profile_handle_session_get,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_SESSIONS_READ },
    { M_GET,    "/sessions/{id}/comments",     profile_handle_session_comments,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_COMMENTS_READ },
    { M_GET,    "/avatars/generated/{file}",   profile_handle_avatar_generated,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/avatars/initials/{file}",    profile_handle_avatar_initials,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_GET,    "/cache/stats",                profile_handle_cache_stats,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_CACHE_ADMIN },
    { M_POST,   "/cache/clear-expired",        profile_handle_cache_clear_expired,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_CACHE_ADMIN },
    { M_DELETE, "/cache/profiles/{username}",  profile_handle_cache_profile_delete,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_CACHE_ADMIN },

    { M_POST,   "/auth/register",              profile_handle_auth_register,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_POST,   "/auth/login",                 profile_handle_auth_login,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_POST,   "/auth/refresh",               profile_handle_auth_refresh,
      PROFILE_AUTH_PUBLIC,     0 },
    { M_POST,   "/auth/logout",                profile_handle_auth_logout,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_GET,    "/auth/me",                    profile_handle_auth_me,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_PATCH,  "/auth/me",                    profile_handle_auth_me_update,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_GET,    "/auth/sessions",              profile_handle_auth_sessions,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_DELETE, "/auth/sessions/{id}",         profile_handle_auth_session_delete,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_GET,    "/auth/api-keys",              profile_handle_keys_list,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_POST,   "/auth/api-keys/generate",     profile_handle_keys_generate,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_POST,   "/auth/api-keys/revoke",       profile_handle_keys_revoke,
      PROFILE_AUTH_PRINCIPAL,  0 },
    { M_POST,   "/auth/api-keys/{id}/rotate",  profile_handle_keys_rotate,
      PROFILE_AUTH_PRINCIPAL,  0 },

    { M_GET,    "/users",                      profile_handle_users_list,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
    { M_GET,    "/users/{id}",                 profile_handle_user_get,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
    { M_PATCH,  "/users/{id}",                 profile_handle_user_update,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
    { M_DELETE, "/users/{id}",                 profile_handle_user_delete,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
    { M_GET,    "/admin/audit",                profile_handle_admin_audit,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
    { M_GET,    "/admin/rate-limits",          profile_handle_admin_rate_limits,
      PROFILE_AUTH_PRINCIPAL,  PROFILE_SCOPE_ADMIN },
};

const int profile_route_count = sizeof(profile_routes) / sizeof(profile_routes[0]);

const char *profile_route_label(apr_pool_t *p, int index)
{
    if (index < 0 || index >= profile_route_count)
        return "unmatched";
    return apr_pstrcat(p, profile_method_name(profile_routes[index].method), " ",
                       profile_routes[index].pattern, NULL);
}
