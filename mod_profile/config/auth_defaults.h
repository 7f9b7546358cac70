/* Defaults and limits of the authentication settings, shared by the directive handlers
 * (auth_directives.c) and the getters and start-up checks (auth_config.c). */
#ifndef PROFILE_AUTH_DEFAULTS_H
#define PROFILE_AUTH_DEFAULTS_H

#include "config/config.h"

#define DEFAULT_MIN_LENGTH       12
#define DEFAULT_ARGON2_M         19456
#define DEFAULT_ARGON2_T         2
#define DEFAULT_ARGON2_P         1
#define DEFAULT_HASH_CONCURRENCY 4
#define DEFAULT_BLOCKLIST        PROFILE_DATA_DIR "/common-passwords.txt"
#define DEFAULT_ISSUER           "mod_profile"
#define DEFAULT_AUDIENCE         "profile-api"
#define DEFAULT_LEEWAY_S         30
#define DEFAULT_ACCESS_S         900
#define DEFAULT_REFRESH_S        1209600
#define DEFAULT_LOCKOUT_ATTEMPTS 5
#define DEFAULT_LOCKOUT_WINDOW_S 900
#define DEFAULT_LOCKOUT_LOCK_S   900
#define DEFAULT_GRACE_S          86400
#define DEFAULT_REALM            "profile-api"
#define MIN_SECRET_BYTES         32
#define MAX_KEY_FILE_BYTES       (64 * 1024)
#define MAX_NAME_LEN             256

#define UNSET PROFILE_UNSET
#define MERGE_INT(f) out->f = add->f != UNSET ? add->f : base->f
#define MERGE_PTR(f) out->f = add->f ? add->f : base->f
#define OR_DEFAULT(v, d) ((v) == UNSET ? (d) : (v))

#endif
