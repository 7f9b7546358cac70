# shellcheck shell=bash
# Sourced by test/bench/run: die, and what the live and tiktok targets share: cleanup
# (live_stop_all), the scratch setup (live_setup: tools, build, L_WORK, ws_fanout, ports, a
# private PostgreSQL, the sidecar secret, the API key), the sidecar and httpd starters, POST
# /connect, session polling and one ws_fanout run (live_fanout). Uses ROOT and TARGET.

die() { echo "bench: $*" >&2; exit 1; }

live_fail() {
    echo "bench: $*" >&2
    if [ -n "${L_WORK:-}" ]; then
        [ -f "$L_WORK/profile-live.log" ] && { echo "--- sidecar log (tail)" >&2; tail -n 30 "$L_WORK/profile-live.log" >&2; }
        [ -s "$L_WORK/profile-live.out" ] && { echo "--- sidecar stderr (tail)" >&2; tail -n 15 "$L_WORK/profile-live.out" >&2; }
        [ -f "$L_WORK/error.log" ] && { echo "--- httpd error log (tail)" >&2; tail -n 30 "$L_WORK/error.log" >&2; }
    fi
    exit 1
}

live_stop_all() {
    local pid
    if [ -n "${L_FANOUT_PID:-}" ]; then
        kill -TERM "$L_FANOUT_PID" 2>/dev/null || true
        wait "$L_FANOUT_PID" 2>/dev/null || true
    fi
    if [ -f "${L_WORK:-/nonexistent}/httpd.pid" ]; then
        pid=$(cat "$L_WORK/httpd.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if [ -n "${L_SIDECAR_PID:-}" ]; then
        kill -TERM "$L_SIDECAR_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$L_SIDECAR_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$L_SIDECAR_PID" 2>/dev/null || true
        wait "$L_SIDECAR_PID" 2>/dev/null || true
    fi
    if [ -f "${L_WORK:-/nonexistent}/pg/postmaster.pid" ]; then
        live_as_pg "$PG_BIN/pg_ctl" -D "$L_WORK/pg" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [ -n "${L_WORK:-}" ]; then
        if [ "${BENCH_LIVE_KEEP:-0}" = 1 ]; then
            echo "bench: scratch directory kept: $L_WORK" >&2
        else
            rm -rf "$L_WORK"
        fi
    fi
}

# initdb and postgres refuse to run as root.
live_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
live_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The sidecar's resident set, in kB.
live_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$L_SIDECAR_PID/status"; }

# The session's last_offset (from GET /sessions/{id}).
live_last_offset() {
    curl -s -H "X-API-Key: $L_API_KEY" "$L_BASE/sessions/$L_SID" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["last_offset"] or 0)'
}

# Waits until the sidecar has no WebSocket client left (the previous run's have gone).
live_wait_no_clients() {
    local n=""
    for _ in $(seq 1 200); do
        n=$(curl -s "$L_SIDECAR/health" | python3 -c 'import json, sys; print(json.load(sys.stdin)["clients"])' 2>/dev/null || true)
        [ "$n" = 0 ] && return 0
        sleep 0.1
    done
    live_fail "the sidecar still counts ${n:-?} WebSocket clients 20 s after a run ended"
}

# The identity headers httpd would send (common/live_identity.h), signed now: one -H
# argument per line for ws_fanout. Valid for LIVE_IDENTITY_MAX_SKEW (60 s): made per run.
live_identity_args() {
    python3 - "$L_WORK/sidecar.secret" "$L_SID" <<'EOF'
import hashlib, hmac, sys, time
with open(sys.argv[1], 'rb') as f:
    secret = f.read()
if secret.endswith(b'\n'):
    secret = secret[:-2] if secret.endswith(b'\r\n') else secret[:-1]
now = str(int(time.time()))
principal, scopes = 'key:bench', 'comments:read'
msg = '\n'.join(('v1', now, principal, scopes, sys.argv[2])).encode()
sig = hmac.new(secret, msg, hashlib.sha256).hexdigest()
for name, value in (('Principal', principal), ('Scopes', scopes), ('Time', now),
                    ('Signature', sig)):
    print('-H')
    print('X-Profile-%s: %s' % (name, value))
EOF
}

# L_IDENT: the -H arguments of live_identity_args, signed now.
live_sign() {
    L_IDENT=()
    mapfile -t L_IDENT < <(live_identity_args)
    [ "${#L_IDENT[@]}" = 8 ] || live_fail "signing the identity headers failed"
}

# One ws_fanout run: live_fanout <label> <connections> <seconds> <url> [ws_fanout options...]
# Sets L_JSON (its output), L_FANOUT_RC (0, or 2 when some closed early) and L_RSS_BEFORE /
# L_RSS_WITH (kB, before connecting and one second into the measured window, when every
# client is connected).
live_fanout() {
    local label=$1 n=$2 secs=$3 url=$4 out err rc=0
    shift 4
    out="$L_WORK/fanout-$label.json"
    err="$L_WORK/fanout-$label.err"
    L_RSS_BEFORE=$(live_rss)
    : >"$err"
    "$L_WORK/ws_fanout" -n "$n" -d "$secs" -p "$L_PROCS" -t 30 "$@" "$url" >"$out" 2>"$err" &
    L_FANOUT_PID=$!
    while ! grep -q 'measuring' "$err" && kill -0 "$L_FANOUT_PID" 2>/dev/null; do
        sleep 0.05
    done
    if grep -q 'measuring' "$err"; then
        # One second in (before a lagging subscriber could have been cut).
        sleep "$(awk -v d="$secs" 'BEGIN { print d / 2 < 1 ? d / 2 : 1 }')"
        L_RSS_WITH=$(live_rss)
    fi
    wait "$L_FANOUT_PID" || rc=$?
    L_FANOUT_PID=""
    L_JSON=$(cat "$out")
    L_FANOUT_RC=$rc
    # 2: not every connection opened, or some closed early / sent bad messages. The first is
    # fatal; the others are results the caller reports (e.g. subscribers cut with 4008).
    { [ "$rc" = 0 ] || [ "$rc" = 2 ]; } \
        || live_fail "ws_fanout ($label, $n connections) exited with $rc: $L_JSON $(cat "$err")"
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(d["connected"] != int(sys.argv[2]))' \
        "$L_JSON" "$n" 2>/dev/null \
        || live_fail "ws_fanout ($label): not all $n connections opened: $L_JSON $(cat "$err")"
    live_wait_no_clients
}

# The shared setup of the live and tiktok targets: tools, build, scratch directory L_WORK (with
# the traps that clean it), ws_fanout, ports, a private PostgreSQL (L_CONNINFO), the secret
# httpd and the sidecar share and the static API key (L_API_KEY). live_setup <mktemp prefix>
live_setup() {
    local apxs pg_super

    command -v gcc >/dev/null || die "gcc not found: install the Debian package gcc"
    pkg-config --exists libwebsockets 2>/dev/null \
        || die "libwebsockets not found by pkg-config: install the Debian package libwebsockets-dev"
    command -v curl >/dev/null || die "curl not found: install the Debian package curl"
    command -v python3 >/dev/null || die "python3 not found: install the Debian package python3"
    PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found: install the Debian package postgresql"
    apxs=${APXS:-$(command -v apxs || command -v apxs2 || true)}
    [ -n "$apxs" ] || die "apxs not found: install the Debian package apache2-dev"
    L_HTTPD="$("$apxs" -q SBINDIR)/$("$apxs" -q TARGET)"
    L_MODDIR=$("$apxs" -q LIBEXECDIR)
    [ -x "$L_HTTPD" ] || die "httpd binary $L_HTTPD not found"
    [ -f "$L_MODDIR/mod_proxy_http.so" ] || die "mod_proxy_http not found in $L_MODDIR"

    cd "$ROOT"
    if [ ! -f build/mod_profile.so ] || [ ! -f build/profilectl ] || [ ! -f build/profile-live ] \
        || [ ! -f build/liblive.a ]; then
        [ -f Makefile ] || ./configure >/dev/null
        make >/dev/null || die "make failed"
    fi

    L_WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    trap live_stop_all EXIT
    trap 'exit 130' INT TERM

    # shellcheck disable=SC2046 # pkg-config's flags are meant to be split
    gcc -O2 -Wall -Wextra -Werror -o "$L_WORK/ws_fanout" test/bench/ws_fanout.c \
        $(pkg-config --cflags --libs libwebsockets) 2>"$L_WORK/gcc.log" \
        || { cat "$L_WORK/gcc.log" >&2; die "building test/bench/ws_fanout.c failed"; }

    L_PG_PORT=$(live_free_port)
    L_HTTP_PORT=$(live_free_port)
    L_SIDE_PORT=$(live_free_port)

    L_USER_LINES=""
    if [ "$(id -u)" = 0 ]; then
        # httpd's children drop root and postgres runs as postgres; both only need to reach
        # the scratch directory.
        chmod 755 "$L_WORK"
        if id www-data >/dev/null 2>&1; then
            L_USER_LINES=$'User www-data\nGroup www-data'
        else
            L_USER_LINES=$'User nobody\nGroup nobody'
        fi
    fi

    # The private database: trust on loopback, nothing durable (fsync off).
    mkdir -p "$L_WORK/pg" "$L_WORK/pgsock" "$L_WORK/pglog"
    chmod 700 "$L_WORK/pg"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$L_WORK/pg" "$L_WORK/pgsock" "$L_WORK/pglog"
        pg_super=postgres
    else
        pg_super=$(id -un)
    fi
    live_as_pg "$PG_BIN/initdb" -D "$L_WORK/pg" -U "$pg_super" -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$L_WORK/initdb.log" 2>&1 || { cat "$L_WORK/initdb.log" >&2; die "initdb failed"; }
    live_as_pg "$PG_BIN/pg_ctl" -D "$L_WORK/pg" -l "$L_WORK/pglog/postgresql.log" -w -t 60 \
        -o "-p $L_PG_PORT -k $L_WORK/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$L_WORK/pglog/postgresql.log" >&2; die "PostgreSQL did not start"; }
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$L_WORK/pgsock" -p "$L_PG_PORT" -U "$pg_super" -d postgres \
        -c 'CREATE ROLE profile LOGIN' -c 'CREATE DATABASE profile OWNER profile' >/dev/null
    L_CONNINFO="host=127.0.0.1 port=$L_PG_PORT dbname=profile user=profile"
    build/profilectl --database "$L_CONNINFO" --sql-dir sql migrate >/dev/null \
        || die "profilectl migrate failed"

    # The secret httpd and the sidecar share, fresh for this run (no newline: both read it
    # verbatim). Not readable by others: the sidecar refuses that.
    head -c 48 /dev/urandom | base64 -w 0 | tr -d '/+=' >"$L_WORK/sidecar.secret"
    chmod 640 "$L_WORK/sidecar.secret"
    [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1 && chgrp www-data "$L_WORK/sidecar.secret"
    L_API_KEY="bench-$(head -c 24 /dev/urandom | base64 -w 0 | tr -d '/+=')"
}

# Writes the sidecar's config (the common lines, then $1: the target's own lines), starts
# build/profile-live and waits for its /health. Sets L_SIDECAR and L_SIDECAR_PID.
live_start_sidecar() {
    cat >"$L_WORK/profile-live.conf" <<EOF
# Written by test/bench/run $TARGET.
listen = 127.0.0.1:$L_SIDE_PORT
database = "$L_CONNINFO"
secret_file = $L_WORK/sidecar.secret
pid_file = $L_WORK/profile-live.pid
log_file = $L_WORK/profile-live.log
log_level = info
sidecar_id = bench
$1
EOF
    L_SIDECAR="http://127.0.0.1:$L_SIDE_PORT"
    build/profile-live --foreground --config "$L_WORK/profile-live.conf" >"$L_WORK/profile-live.out" 2>&1 &
    L_SIDECAR_PID=$!
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$L_SIDECAR/health" && break
        kill -0 "$L_SIDECAR_PID" 2>/dev/null || live_fail "the sidecar exited at start"
        sleep 0.1
    done
    curl -fs -o /dev/null "$L_SIDECAR/health" || live_fail "the sidecar does not answer $L_SIDECAR/health"
}

# Writes httpd.conf for <subscribers> WebSocket clients (/ws/ proxied to the sidecar behind
# AuthType Profile, L_API_KEY a static admin key), starts httpd and waits for /healthcheck.
# Sets L_BASE and L_MAX_WORKERS.
live_start_httpd() {
    local conns=$1 threads
    # Each proxied WebSocket holds one httpd worker thread for its whole life in httpd 2.4
    # (mod_proxy_http's tunnel is synchronous), so MaxRequestWorkers must cover every
    # subscriber plus the ordinary requests: 4 processes of ceil((subscribers + 100) / 4)
    # threads, all started up front so no process is started or reaped during a round.
    threads=$(( (conns + 100 + 3) / 4 ))
    [ "$threads" -ge 64 ] || threads=64
    L_MAX_WORKERS=$(( 4 * threads ))
    cat >"$L_WORK/httpd.conf" <<EOF
ServerRoot "$L_WORK"
ServerName 127.0.0.1
Listen 127.0.0.1:$L_HTTP_PORT
PidFile "$L_WORK/httpd.pid"
DefaultRuntimeDir "$L_WORK"
ErrorLog "$L_WORK/error.log"
LogLevel warn
$L_USER_LINES
LoadModule mpm_event_module $L_MODDIR/mod_mpm_event.so
LoadModule authz_core_module $L_MODDIR/mod_authz_core.so
LoadModule authn_core_module $L_MODDIR/mod_authn_core.so
LoadModule authz_user_module $L_MODDIR/mod_authz_user.so
LoadModule proxy_module $L_MODDIR/mod_proxy.so
LoadModule proxy_http_module $L_MODDIR/mod_proxy_http.so
LoadModule profile_module $ROOT/build/mod_profile.so

# In httpd 2.4 every open proxied WebSocket holds one worker thread until it closes:
# MaxRequestWorkers ($L_MAX_WORKERS) >= subscribers ($conns) + ordinary requests.
StartServers 4
ServerLimit 4
ThreadLimit $threads
ThreadsPerChild $threads
MaxRequestWorkers $L_MAX_WORKERS
MinSpareThreads 1
MaxSpareThreads $L_MAX_WORKERS
MaxConnectionsPerChild 0
ListenBacklog 2048
Timeout 60
KeepAlive On

<Location />
    SetHandler profile
    Require all granted
</Location>
<Location /ws/>
    ProxyPass http://127.0.0.1:$L_SIDE_PORT/ws/ upgrade=websocket
    AuthType Profile
    Require profile-scope comments:read
    ProfileWebSocket On
    ProfileWebSocketMaxPerKey 0
</Location>
# Server-wide: the secret mod_profile signs the identity headers with.
ProfileSidecarSecretFile "$L_WORK/sidecar.secret"

ProfileDatabase "$L_CONNINFO"
ProfilePasswordBlocklist "$ROOT/conf/common-passwords.txt"
ProfileJWTSecret "$(head -c 48 /dev/urandom | base64 -w 0)"
ProfileAPIKey $(printf '%s' "$L_API_KEY" | sha256sum | cut -d ' ' -f 1) bench admin
EOF
    "$L_HTTPD" -t -d "$L_WORK" -f "$L_WORK/httpd.conf" >"$L_WORK/configtest.log" 2>&1 \
        || { cat "$L_WORK/configtest.log" >&2; live_fail "httpd.conf rejected"; }
    "$L_HTTPD" -d "$L_WORK" -f "$L_WORK/httpd.conf" -k start || live_fail "httpd did not start"
    L_BASE="http://127.0.0.1:$L_HTTP_PORT"
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$L_BASE/healthcheck" && break
        sleep 0.1
    done
    curl -fs -o /dev/null "$L_BASE/healthcheck" || live_fail "httpd does not answer $L_BASE/healthcheck"
}

# POST /connect <json body> through httpd. Sets L_SID. 503 (no sidecar alive yet: its first
# heartbeat may not be in) still stores the session; the sidecar claims it.
live_connect() {
    local body code
    body=$(curl -s -w '\n%{http_code}' -X POST -H "X-API-Key: $L_API_KEY" \
        -H 'Content-Type: application/json' -d "$1" "$L_BASE/connect")
    code=$(tail -n 1 <<<"$body")
    body=$(sed '$d' <<<"$body")
    case "$code" in 200|202|503) ;; *) live_fail "POST /connect answered $code: $body" ;; esac
    L_SID=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("session_id") or (d.get("details") or {})["session_id"])' <<<"$body") \
        || live_fail "POST /connect answered $code without a session_id: $body"
    [[ "$L_SID" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || live_fail "POST /connect gave session_id '$L_SID'"
}

# Waits (30 s at most) until the session is live with last_offset > <min offset>.
live_wait_offset() {
    local min=$1 v=""
    for _ in $(seq 1 300); do
        v=$(curl -s -H "X-API-Key: $L_API_KEY" "$L_BASE/sessions/$L_SID" \
            | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["status"], d["last_offset"] or 0)' 2>/dev/null || true)
        case "$v" in
            "live "*) [ "${v#live }" -gt "$min" ] && return 0 ;;
            ended*|failed*) live_fail "the session $L_SID is ${v% *}: $(curl -s -H "X-API-Key: $L_API_KEY" "$L_BASE/sessions/$L_SID")" ;;
        esac
        sleep 0.1
    done
    case "$v" in "live "*) ;; *) live_fail "the session $L_SID is not live after 30 s (status, last_offset: ${v:-none})" ;; esac
    live_fail "the session $L_SID is live but only reached offset ${v#live } in 30 s"
}
