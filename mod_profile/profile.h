/* Shared declarations for every mod_profile source file that talks to httpd. */
#ifndef PROFILE_H
#define PROFILE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#ifndef PROFILE_VERSION
#define PROFILE_VERSION "0.1.0"
#endif

/* The name used with `SetHandler` to mount the API. */
#define PROFILE_HANDLER_NAME "profile"

extern module AP_MODULE_DECLARE_DATA profile_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(profile);
#endif

#endif
