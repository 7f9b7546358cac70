# shellcheck shell=bash
# Sourced by test/bench/run: the http target (http_main). Benchmark, in one httpd (event MPM,
# loopback):
#   - GET /healthcheck (mod_profile) against a trivial C handler;
#   - GET /api/v1/monitoring/ping behind `AuthType Profile` + `Require valid-user`, once with
#     an API key (a static ProfileAPIKey: no database lookup per request) and once with a JWT
#     access token from POST /auth/login, each against the same handler unauthenticated
#     (the bare /monitoring/ping, no Location around it);
#   - GET /api/v1/health/live under a rate-limit policy that never refuses (one counter for
#     the client, decided at every request), once with the shm backend and once with the
#     Redis backend (a virtual host on a second port, a private redis-server), against the
#     bare /health/live without a policy;
#   - the headline: a cached GET /api/v1/profile/{username} with an API key and the shm rate
#     limiter (a policy that never refuses), against the trivial handler. The profile is
#     fetched once from the fake TikTok (test/fakes/tiktok_web.py) before the rounds.
# A private PostgreSQL cluster (initdb in the scratch directory) serves the login and the
# revocation feed that JWT-authenticated requests poll once a second per process.
# The targets alternate for several rounds because the machine is noisy; the medians are
# compared. The last six lines are the ratios, e.g.
#   ratio healthcheck/trivial: 0.97
#   ratio api-key/open: 0.95
#   ratio jwt/open: 0.93
#   ratio shm/open: 0.97
#   ratio redis/open: 0.70
#   ratio profile/trivial: 0.85
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_DURATION (3, seconds per round),
# BENCH_THREADS (1), BENCH_CONNECTIONS (16), BENCH_WARMUP (2, seconds per target).
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-3}
THREADS=${BENCH_THREADS:-1}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WARMUP=${BENCH_WARMUP:-2}

http_main() {
    command -v wrk >/dev/null || die "wrk not found: install the Debian package wrk"
    command -v curl >/dev/null || die "curl not found: install the Debian package curl"
    command -v python3 >/dev/null || die "python3 not found: install the Debian package python3"
    command -v redis-server >/dev/null || die "redis-server not found: install the Debian package redis-server"
    command -v redis-cli >/dev/null || die "redis-cli not found: install the Debian package redis-tools"
    PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found: install the Debian package postgresql"
    APXS=${APXS:-$(command -v apxs || command -v apxs2 || true)}
    [ -n "$APXS" ] || die "apxs not found: install the Debian package apache2-dev"

    cd "$ROOT"
    if [ ! -f build/mod_profile.so ] || [ ! -f build/profilectl ]; then
        [ -f Makefile ] || ./configure >/dev/null
        make >/dev/null
    fi

    HTTPD="$("$APXS" -q SBINDIR)/$("$APXS" -q TARGET)"
    MODDIR=$("$APXS" -q LIBEXECDIR)
    [ -x "$HTTPD" ] || die "httpd binary $HTTPD not found"

    WORK=$(mktemp -d /tmp/profile-bench.XXXXXX)
    PIDFILE="$WORK/httpd.pid"
    PG_DATA="$WORK/pg"
    REDIS_PID=""
    TIKTOK_PID=""
    # initdb and postgres refuse to run as root.
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    # shellcheck disable=SC2317 # run by the EXIT trap
    stop_all() {
        if [ -f "$PIDFILE" ]; then
            local pid
            pid=$(cat "$PIDFILE")
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        if [ -n "$TIKTOK_PID" ]; then
            kill -TERM "$TIKTOK_PID" 2>/dev/null || true
            wait "$TIKTOK_PID" 2>/dev/null || true
        fi
        if [ -n "$REDIS_PID" ]; then
            kill -TERM "$REDIS_PID" 2>/dev/null || true
            wait "$REDIS_PID" 2>/dev/null || true
        fi
        if [ -f "$PG_DATA/postmaster.pid" ]; then
            as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        fi
        rm -rf "$WORK"
    }
    trap stop_all EXIT
    trap 'exit 130' INT TERM

    # The trivial module is built in the scratch directory so the tree stays clean.
    cp test/bench/mod_bench_trivial.c "$WORK/"
    (cd "$WORK" && "$APXS" -c -Wc,-Wall -Wc,-Wextra -Wc,-Werror mod_bench_trivial.c >apxs.log 2>&1) \
        || { cat "$WORK/apxs.log" >&2; die "building mod_bench_trivial failed"; }

    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    PORT=$(free_port)
    RL_PORT=$(free_port)
    PG_PORT=$(free_port)
    REDIS_PORT=$(free_port)
    TIKTOK_PORT=$(free_port)

    python3 test/fakes/tiktok_web.py --host 127.0.0.1 --port "$TIKTOK_PORT" >"$WORK/tiktok.log" 2>&1 &
    TIKTOK_PID=$!

    # The private Redis of the Redis-backend case: loopback only, nothing written to disk.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$WORK" \
        --logfile "$WORK/redis.log" >/dev/null 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
            "$REDIS_PORT" 2>/dev/null && break
        sleep 0.1
    done

    USER_LINES=""
    if [ "$(id -u)" = 0 ]; then
        # httpd's children drop root and postgres runs as postgres; both only need to reach
        # the scratch directory.
        chmod 755 "$WORK"
        if id www-data >/dev/null 2>&1; then
            USER_LINES=$'User www-data\nGroup www-data'
        else
            USER_LINES=$'User nobody\nGroup nobody'
        fi
    fi

    # The private database: trust on loopback, nothing durable (fsync off).
    mkdir -p "$PG_DATA" "$WORK/pgsock" "$WORK/pglog"
    chmod 700 "$PG_DATA"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DATA" "$WORK/pgsock" "$WORK/pglog"
        PG_SUPER=postgres
    else
        PG_SUPER=$(id -un)
    fi
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPER" -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pglog/postgresql.log" -w -t 60 \
        -o "-p $PG_PORT -k $WORK/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" \
        start >/dev/null || { cat "$WORK/pglog/postgresql.log" >&2; die "PostgreSQL did not start"; }
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/pgsock" -p "$PG_PORT" -U "$PG_SUPER" -d postgres \
        -c 'CREATE ROLE profile LOGIN' -c 'CREATE DATABASE profile OWNER profile' >/dev/null
    CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=profile user=profile"
    build/profilectl --database "$CONNINFO" --sql-dir sql migrate >/dev/null
    BENCH_PASSWORD="Bench-$(head -c 12 /dev/urandom | base64 -w 0 | tr -d '/+=')"
    printf '%s\n' "$BENCH_PASSWORD" | build/profilectl --database "$CONNINFO" user add \
        --username bench --email bench@example.org --password-stdin >/dev/null

    # The static key of the API-key case and the HS256 secret, fresh for this run.
    API_KEY="bench-$(head -c 24 /dev/urandom | base64 -w 0 | tr -d '/+=')"
    API_KEY_HASH=$(printf '%s' "$API_KEY" | sha256sum | cut -d ' ' -f 1)
    JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w 0)

    cat > "$WORK/httpd.conf" <<EOF
ServerRoot "$WORK"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
Listen 127.0.0.1:$RL_PORT
PidFile "$PIDFILE"
DefaultRuntimeDir "$WORK"
ErrorLog "$WORK/error.log"
LogLevel warn
$USER_LINES
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule profile_module $ROOT/build/mod_profile.so
LoadModule profile_bench_trivial_module $WORK/.libs/mod_bench_trivial.so

# A fixed pool of threads, so no process is started or reaped while wrk runs.
StartServers 2
ServerLimit 2
ThreadsPerChild 32
ThreadLimit 32
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
KeepAlive On
MaxKeepAliveRequests 0

# No CustomLog, so no access log: the bench measures the module, not the disk.
<Location />
    SetHandler profile
    Require all granted
</Location>
# Later Location sections win, so /trivial is not shadowed by /.
<Location /trivial>
    SetHandler bench-trivial
</Location>
# The authenticated twin of /monitoring/ping: the same handler behind the auth front end.
<Location /api/v1/monitoring/ping>
    AuthType Profile
    Require valid-user
</Location>

# The rate-limited twin of /health/live: a policy that never refuses (a million a second),
# so every request is decided and answered 200 with the rate-limit headers.
<Location /api/v1/health/live>
    ProfileRateLimit bench 1000000 1 by=key
</Location>
# The headline target: profiles with the same never-refusing shm policy.
<Location /api/v1/profile>
    ProfileRateLimit bench 1000000 1 by=key
</Location>
ProfileTikTokBaseURL http://127.0.0.1:$TIKTOK_PORT
# Longer than the whole bench: every measured profile request is a hit.
ProfileCacheTTL 3600

ProfileDatabase "$CONNINFO"
ProfileJWTSecret "$JWT_SECRET"
ProfileAccessTokenLifetime 3600
ProfileAPIKey $API_KEY_HASH bench admin

# The same server on a second port with the Redis backend.
<VirtualHost 127.0.0.1:$RL_PORT>
    ProfileRedis redis://127.0.0.1:$REDIS_PORT/0
    ProfileRateLimitBackend redis
</VirtualHost>
EOF

    "$HTTPD" -t -d "$WORK" -f "$WORK/httpd.conf" >/dev/null 2>&1 \
        || { "$HTTPD" -t -d "$WORK" -f "$WORK/httpd.conf" || true; die "httpd.conf rejected"; }
    "$HTTPD" -d "$WORK" -f "$WORK/httpd.conf" -k start \
        || { cat "$WORK/error.log" >&2 2>/dev/null; die "httpd did not start"; }

    BASE="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$BASE/trivial" && break
        sleep 0.1
    done

    # Both targets must answer what the bench claims to measure.
    HC=$(curl -s -w '\n%{http_code}' "$BASE/healthcheck") || die "no answer from $BASE/healthcheck"
    [ "$(tail -n 1 <<<"$HC")" = 200 ] || { cat "$WORK/error.log" >&2; die "/healthcheck: $HC"; }
    grep -q '"status":"healthy"' <<<"$HC" || die "/healthcheck answered: $HC"
    TR=$(curl -s -w '\n%{http_code}' "$BASE/trivial") || die "no answer from $BASE/trivial"
    [ "$(tail -n 1 <<<"$TR")" = 200 ] || die "/trivial: $TR"

    LOGIN=$(curl -s -X POST -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$BENCH_PASSWORD\"}" "$BASE/auth/login")
    JWT=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$LOGIN" 2>/dev/null) \
        || { cat "$WORK/error.log" >&2; die "POST /auth/login answered: $LOGIN"; }
    AUTHED=/api/v1/monitoring/ping
    OPEN=/monitoring/ping
    # The authenticated route must refuse anonymous requests and accept both credentials.
    code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
    [ "$(code "$BASE$AUTHED")" = 401 ] || die "$AUTHED answers without credentials"
    [ "$(code -H "X-API-Key: $API_KEY" "$BASE$AUTHED")" = 200 ] || die "$AUTHED refuses the API key"
    [ "$(code -H "Authorization: Bearer $JWT" "$BASE$AUTHED")" = 200 ] || die "$AUTHED refuses the JWT"
    [ "$(code "$BASE$OPEN")" = 200 ] || die "$OPEN does not answer"
    RL_BASE="http://127.0.0.1:$RL_PORT"
    LIMITED=/api/v1/health/live
    LIVE=/health/live
    # Both limited targets must be decided (rate-limit headers), the Redis one by Redis.
    rl_header() { curl -s -o /dev/null -D - "$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "ratelimit" { print $2 }'; }
    [ -n "$(rl_header "$BASE$LIMITED")" ] || die "$LIMITED (shm) carries no RateLimit header"
    [ -n "$(rl_header "$RL_BASE$LIMITED")" ] || die "$LIMITED (redis) carries no RateLimit header"
    [ -z "$(rl_header "$BASE$LIVE")" ] || die "$LIVE is rate limited"
    redis-cli -p "$REDIS_PORT" INFO commandstats | grep -q '^cmdstat_eval' \
        || die "the Redis backend ran no script in Redis"
    PROFILE=/api/v1/profile/bench_user
    # The profile target must be a cache hit, authenticated and rate limited.
    [ "$(code "$BASE$PROFILE")" = 401 ] || die "$PROFILE answers without credentials"
    PR=$(curl -s -H "X-API-Key: $API_KEY" -w '\n%{http_code}' "$BASE$PROFILE")
    [ "$(tail -n 1 <<<"$PR")" = 200 ] || { cat "$WORK/error.log" >&2; die "$PROFILE: $PR"; }
    grep -q '"source":"scraper"' <<<"$PR" || die "$PROFILE was not scraped from the fake TikTok: $PR"
    PH=$(curl -s -o /dev/null -D - -H "X-API-Key: $API_KEY" "$BASE$PROFILE" | tr -d '\r')
    grep -qi '^x-profile-cache: hit' <<<"$PH" || die "$PROFILE is not a cache hit: $PH"
    grep -qi '^ratelimit:' <<<"$PH" || die "$PROFILE carries no RateLimit header: $PH"
    echo "healthcheck body: $(head -n 1 <<<"$HC") ($(head -n 1 <<<"$HC" | tr -d '\n' | wc -c) bytes)"
    echo "trivial body:     $(head -n 1 <<<"$TR") ($(head -n 1 <<<"$TR" | tr -d '\n' | wc -c) bytes)"
    echo "ping: open = $OPEN without auth; api-key and jwt = $AUTHED behind AuthType Profile +" \
         "Require valid-user, with a static ProfileAPIKey (no database lookup) or an HS256 JWT" \
         "from POST /auth/login"
    echo "limits: open = $LIVE without a policy; shm and redis = $LIMITED under" \
         "ProfileRateLimit bench 1000000 1 by=key (never refuses), the redis one on port $RL_PORT" \
         "(ProfileRateLimitBackend redis, a private redis-server on loopback)"
    echo "profile: $PROFILE with X-API-Key (static key) under ProfileRateLimit bench 1000000 1" \
         "by=key (shm), a cache hit of $(head -n 1 <<<"$PR" | tr -d '\n' | wc -c) bytes, against /trivial"
    echo "wrk -t$THREADS -c$CONNECTIONS, $ROUNDS rounds of ${DURATION}s per target, $(nproc) CPUs"

    # Prints requests/s of one wrk run (target: a path, or "path|header" to send one header);
    # fails when any answer was not 2xx/3xx or a socket failed.
    # A target starting with http:// names another server than $BASE.
    measure() {
        local out rps path="${1%%|*}" header=() url
        [ "$path" != "$1" ] && header=(-H "${1#*|}")
        url="$BASE$path"
        [ "${path#http://}" != "$path" ] && url="$path"
        out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" "${header[@]}" "$url" 2>&1) \
            || die "wrk failed: $out"
        if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
            die "errors during the run against $1: $out"
        fi
        rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
        [ -n "$rps" ] || die "no Requests/sec in wrk output: $out"
        echo "$rps"
    }

    median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

    NAMES=(healthcheck trivial open api-key jwt live shm redis profile)
    TARGETS=(/healthcheck /trivial "$OPEN" "$AUTHED|X-API-Key: $API_KEY" "$AUTHED|Authorization: Bearer $JWT"
             "$LIVE" "$LIMITED" "$RL_BASE$LIMITED" "$PROFILE|X-API-Key: $API_KEY")
    N=${#TARGETS[@]}
    for t in "${TARGETS[@]}"; do
        measure "$t" "$WARMUP" >/dev/null
    done

    declare -A RUNS LAST
    for i in $(seq 1 "$ROUNDS"); do
        # Rotate the order every round so no target always gets the warmer slot.
        for j in $(seq 0 $((N - 1))); do
            k=$(( (i + j) % N ))
            LAST[${NAMES[$k]}]=$(measure "${TARGETS[$k]}" "$DURATION")
            RUNS[${NAMES[$k]}]+="${LAST[${NAMES[$k]}]} "
        done
        line="round $i:"
        for name in "${NAMES[@]}"; do
            line+=$(printf '  %s %.0f' "$name" "${LAST[$name]}")
        done
        echo "$line req/s"
    done

    declare -A MED
    line="median:"
    for name in "${NAMES[@]}"; do
        MED[$name]=$(tr ' ' '\n' <<<"${RUNS[$name]}" | grep . | median)
        line+=$(printf '  %s %.0f' "$name" "${MED[$name]}")
    done
    echo "$line req/s"

    # Every decision above went to Redis: no fallback to the local table.
    FALLBACKS=$(curl -s "$RL_BASE/monitoring/metrics" | python3 -c 'import json, sys; print(json.load(sys.stdin)["rate_limits"]["redis_fallbacks"])')
    [ "$FALLBACKS" = 0 ] || die "$FALLBACKS rate-limit decisions fell back from Redis during the bench"

    # One upstream fetch in all: every measured profile answer came from the cache.
    FETCHES=$(curl -s "http://127.0.0.1:$TIKTOK_PORT/__fake/fetches" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("bench_user", 0))')
    [ "$FETCHES" = 1 ] || die "the fake TikTok saw $FETCHES fetches of bench_user, not 1"

    if grep -qE '\[(error|crit|alert|emerg)\]|exit signal' "$WORK/error.log"; then
        echo "error log:" >&2
        cat "$WORK/error.log" >&2
        die "httpd logged errors during the bench"
    fi

    ratio() { awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "ratio %s: %.2f\n", l, a / b }'; }
    ratio healthcheck/trivial "${MED[healthcheck]}" "${MED[trivial]}"
    ratio api-key/open "${MED[api-key]}" "${MED[open]}"
    ratio jwt/open "${MED[jwt]}" "${MED[open]}"
    ratio shm/open "${MED[shm]}" "${MED[live]}"
    ratio redis/open "${MED[redis]}" "${MED[live]}"
    ratio profile/trivial "${MED[profile]}" "${MED[trivial]}"
}
