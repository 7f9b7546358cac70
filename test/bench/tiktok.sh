# shellcheck shell=bash
# Sourced by test/bench/run: the tiktok target (tiktok_main), on the helpers of lib.sh.
#
# The tiktok target (test/bench/run tiktok): the TikTok LIVE source against the fake upstream
# test/fakes/tiktok_live.py, in two parts.
#   1. The decoder alone: the fake records BENCH_TIKTOK_FRAMES push frames (--record: the
#      "normal" stream, every message type, the fake's default messages per frame, half of
#      the frames gzip), and test/bench/webcast_decode.c (built here with gcc against
#      build/liblive.a) decodes them the way the source does (push frame → gunzip → fetch
#      result → each message → event), over and over for BENCH_TIKTOK_DECODE_SECONDS;
#      BENCH_TIKTOK_ROUNDS rounds: frames/s, events/s, MB/s (of frames as received).
#   2. End to end: a private PostgreSQL, build/profile-live (tiktok_www_url and sign_url on
#      the fake, sign_api_key_file) and httpd, as in the live target; the fake streams a room
#      of BENCH_TIKTOK_MESSAGES messages at its maximum rate (--frame-interval
#      BENCH_TIKTOK_FRAME_INTERVAL ms, BENCH_TIKTOK_MSGS_PER_FRAME messages per frame);
#      POST /connect {"username":"normal_bench","source":"tiktok"}; one WebSocket client
#      (ws_fanout -n 1) through httpd, BENCH_TIKTOK_ROUNDS rounds of BENCH_TIKTOK_DURATION s.
#      Per round: events/s delivered to the client, events/s the sidecar stored (the session's
#      last_offset) and messages/s the fake sent (its /_fake/log "delivered"), with the events
#      those messages carry (the stream's events/messages ratio, from part 1: 11 of 16).
#      At its maximum rate the fake sends more than the sidecar can store: a live source
#      cannot pause its upstream, so the session drops what its inbox (inbox_max_events)
#      cannot hold, and "delivered" is the pipeline's ceiling; each round shows the share of
#      the sent events dropped ((sent - stored) / sent). Lower the rate with the knobs to see
#      a rate the sidecar keeps up with.
#      The fake builds its stream in Python before the session starts (about 40 µs and 1.3 kB
#      per message), so the stream is sized for the bench; the warm-up measures the fake's
#      rate and fails early when the stream would not last every round. The messages'
#      create_time is a fixed date in the fake, so no latency is reported.
# The last two lines are the medians, e.g. (2 CPUs)
#   median decode: 150101 frames/s  309583 events/s  180.3 MB/s
#   median end-to-end: 30850 events/s delivered  31331 events/s stored  69776 messages/s (47971 events/s) sent by the fake (35% dropped)
# Knobs (environment): BENCH_TIKTOK_ROUNDS (3), BENCH_TIKTOK_FRAMES (2000),
# BENCH_TIKTOK_DECODE_SECONDS (5), BENCH_TIKTOK_DURATION (10), BENCH_TIKTOK_FRAME_INTERVAL (0),
# BENCH_TIKTOK_MSGS_PER_FRAME (50), BENCH_TIKTOK_MESSAGES (70000 x (rounds x (duration + 3) + 6):
# 3.15 million by default, which the fake builds in about 100 s and 4 GB), BENCH_LIVE_KEEP
# (1: keep the scratch directory and its logs), PYTHON3 (/usr/bin/python3: runs the fake).

tiktok_stop_all() {
    if [ -n "${T_FAKE_PID:-}" ]; then
        kill -TERM "$T_FAKE_PID" 2>/dev/null || true
        wait "$T_FAKE_PID" 2>/dev/null || true
        T_FAKE_PID=""
    fi
    live_stop_all
}

# The median of the numbers on stdin (space or newline separated).
tiktok_median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Messages the fake has sent to the bench room so far (the furthest position in its stream).
tiktok_fake_sent() {
    curl -s --max-time 60 "$T_FAKE/_fake/log?user=normal_bench" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["delivered"])' 2>/dev/null \
        || live_fail "GET $T_FAKE/_fake/log failed"
}

# The share of the events sent that were not stored: tiktok_dropped <messages/s> <events per
# message> <stored events/s>, e.g. "53%" (0% when the sidecar kept up).
tiktok_dropped() {
    awk -v s="$1" -v r="$2" -v t="$3" 'BEGIN { d = (s * r > 0) ? 1 - t / (s * r) : 0; if (d < 0) d = 0; printf "%.0f%%", 100 * d }'
}

tiktok_main() {
    local rounds=${BENCH_TIKTOK_ROUNDS:-3} nframes=${BENCH_TIKTOK_FRAMES:-2000}
    local dsecs=${BENCH_TIKTOK_DECODE_SECONDS:-5} duration=${BENCH_TIKTOK_DURATION:-6}
    local interval=${BENCH_TIKTOK_FRAME_INTERVAL:-0} mpf=${BENCH_TIKTOK_MSGS_PER_FRAME:-50}
    local messages=${BENCH_TIKTOK_MESSAGES:-default}
    local live_cflags live_libs out i fake_port ws_port sign_key url room ratio t_build
    local v_fps v_eps v_bps v_msgs v_evs v_gz v_bad v_mal v_unk v_dps v_gaps v_err
    local off0 off1 sent0 sent1 t0 t1 stored sent dropped v need
    local -a fps eps bps dlv sto snt
    L_PROCS=1

    for v in "$rounds" "$nframes" "$dsecs" "$duration" "$mpf"; do
        [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIKTOK_* values must be positive integers (got '$v')"
    done
    # Enough for the fake's 50000-80000 messages/s (2 CPUs) over the warm-up and every round.
    [ "$messages" != default ] || messages=$(( 90000 * (rounds * (duration + 3) + 6) ))
    [[ "$messages" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIKTOK_MESSAGES must be a positive integer"
    [[ "$interval" =~ ^[0-9]+$ ]] || die "BENCH_TIKTOK_FRAME_INTERVAL must be an integer >= 0"
    [ -f "$ROOT/test/fakes/tiktok_live.py" ] || die "test/fakes/tiktok_live.py not found"
    # The fake serves its WebSocket with Debian's python3-websockets: the system python3
    # (PYTHON3, /usr/bin/python3 as in the Makefile), not whichever python3 comes first in PATH.
    T_PY=${PYTHON3:-/usr/bin/python3}
    "$T_PY" -c 'import websockets' 2>/dev/null \
        || die "the fake needs python3-websockets under $T_PY: install the Debian package python3-websockets"

    live_setup profile-bench-tiktok
    trap tiktok_stop_all EXIT

    # 1. The decoder alone.
    live_cflags=$(sed -n 's/^LIVE_CFLAGS *= *//p' Makefile)
    live_libs=$(sed -n 's/^LIVE_LIBS *= *//p' Makefile)
    # shellcheck disable=SC2086 # the Makefile's flags are meant to be split
    gcc -O2 -Wall -Wextra -Werror -Isidecar -Icommon $live_cflags \
        -o "$L_WORK/webcast_decode" test/bench/webcast_decode.c build/liblive.a $live_libs \
        2>"$L_WORK/gcc-decode.log" \
        || { cat "$L_WORK/gcc-decode.log" >&2; die "building test/bench/webcast_decode.c against build/liblive.a failed (is build/liblive.a up to date? make build/liblive.a)"; }
    "$T_PY" test/fakes/tiktok_live.py --record "$L_WORK/frames.bin" --frames "$nframes" \
        >"$L_WORK/record.log" 2>&1 \
        || { cat "$L_WORK/record.log" >&2; die "test/fakes/tiktok_live.py --record failed"; }
    echo "tiktok: $(nproc) CPUs; decoder: $nframes recorded frames ($(stat -c %s "$L_WORK/frames.bin") bytes), $rounds rounds of ${dsecs}s"
    for i in $(seq 1 "$rounds"); do
        out=$("$L_WORK/webcast_decode" -d "$dsecs" "$L_WORK/frames.bin") \
            || die "webcast_decode failed: $out"
        read -r v_fps v_eps v_bps v_msgs v_evs v_gz v_bad v_mal v_unk < <(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(d["frames_per_s"], d["events_per_s"], d["bytes_per_s"], d["messages"], d["events"],
      d["gzip_frames"], d["bad_frames"], d["malformed"], d["unknown"])' "$out")
        [ "$v_bad" = 0 ] || die "webcast_decode: $v_bad bad frames in the recording: $out"
        fps+=("$v_fps"); eps+=("$v_eps"); bps+=("$v_bps")
        printf 'round %d decode: %.0f frames/s  %.0f events/s  %.1f MB/s  (%d messages: %d events, %d malformed, %d unknown; %d gzip frames)\n' \
            "$i" "$v_fps" "$v_eps" "$(awk -v b="$v_bps" 'BEGIN { print b / 1e6 }')" \
            "$v_msgs" "$v_evs" "$v_mal" "$v_unk" "$v_gz"
    done
    # Events per message of the fake's stream (the same pattern as the live room's).
    ratio=$(awk -v e="$v_evs" -v m="$v_msgs" 'BEGIN { print e / m }')
    printf 'median decode: %.0f frames/s  %.0f events/s  %.1f MB/s\n' \
        "$(tiktok_median <<<"${fps[*]}")" "$(tiktok_median <<<"${eps[*]}")" \
        "$(awk -v b="$(tiktok_median <<<"${bps[*]}")" 'BEGIN { print b / 1e6 }')"

    # 2. End to end. The sign key file, like the secret, is not readable by others.
    fake_port=$(live_free_port)
    ws_port=$(live_free_port)
    sign_key="bench-sign-$(head -c 18 /dev/urandom | base64 -w 0 | tr -d '/+=')"
    printf '%s' "$sign_key" >"$L_WORK/sign.key"
    chmod 600 "$L_WORK/sign.key"
    "$T_PY" test/fakes/tiktok_live.py --host 127.0.0.1 --port "$fake_port" --ws-port "$ws_port" \
        --sign-key "$sign_key" --frame-interval "$interval" --msgs-per-frame "$mpf" \
        --messages "$messages" --heartbeat-ms 10000 >"$L_WORK/fake.log" 2>&1 &
    T_FAKE_PID=$!
    T_FAKE="http://127.0.0.1:$fake_port"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$T_FAKE/_fake/config" && break
        kill -0 "$T_FAKE_PID" 2>/dev/null || { cat "$L_WORK/fake.log" >&2; die "the fake upstream exited at start"; }
        sleep 0.1
    done
    curl -fs -o /dev/null "$T_FAKE/_fake/config" || { cat "$L_WORK/fake.log" >&2; die "the fake upstream does not answer $T_FAKE"; }

    # The fake builds the room's stream at its first sign call, under its lock: done here,
    # untimed, so the sidecar's own sign call (10 s timeout) finds it built.
    room=$(curl -s --max-time 10 "$T_FAKE/api-live/user/room/?uniqueId=normal_bench&sourceType=54" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["user"]["roomId"])') \
        || die "the fake's room API gave no roomId"
    t_build=$(date +%s.%N)
    curl -fs -o /dev/null --max-time 900 -H "X-Api-Key: $sign_key" \
        "$T_FAKE/webcast/fetch?client=ttlive-c&room_id=$room&user_agent=bench&client_enter=true" \
        || die "the fake's sign call for room $room failed"
    echo "tiktok: the fake built its stream of $messages messages in $(awk -v s="$t_build" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"

    live_start_sidecar "tiktok_www_url = http://127.0.0.1:$fake_port
sign_url = http://127.0.0.1:$fake_port
sign_api_key_file = $L_WORK/sign.key
# The one client may lag this many events (at the fake's maximum rate) before close 4008.
session_buffer = 65536
client_queue = 32768"
    live_start_httpd 1
    live_connect '{"username":"normal_bench","source":"tiktok"}'
    live_wait_offset 100
    url="ws://127.0.0.1:$L_HTTP_PORT/ws/comments/$L_SID?api_key=$L_API_KEY"
    echo "tiktok: end to end: fake $T_FAKE (push ws://127.0.0.1:$ws_port, --frame-interval $interval," \
         "$mpf messages per frame) → sidecar session $L_SID → httpd" \
         "ws://127.0.0.1:$L_HTTP_PORT/ws/comments/$L_SID?api_key=… → 1 client; $rounds rounds of ${duration}s"

    # Warm-up, which also proves the path delivers, and tells how fast the fake sends: a
    # stream that cannot last every round fails now rather than after the first rounds.
    sent0=$(tiktok_fake_sent)
    t0=$(date +%s.%N)
    live_fanout tiktok-warmup 1 2 "$url"
    [ "$L_FANOUT_RC" = 0 ] || live_fail "warm-up: $L_JSON"
    sent1=$(tiktok_fake_sent)
    need=$(awk -v a="$sent0" -v b="$sent1" -v s="$t0" -v e="$(date +%s.%N)" -v r="$rounds" -v d="$duration" \
        'BEGIN { printf "%.0f", b + (b - a) / (e - s) * r * (d + 3) * 1.1 }')
    [ "$need" -lt "$messages" ] \
        || live_fail "the fake sends $(awk -v a="$sent0" -v b="$sent1" -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) / (e - s) }') messages/s: its $messages messages would not last $rounds rounds of ${duration}s (set BENCH_TIKTOK_MESSAGES=$(( need * 12 / 10 )))"

    for i in $(seq 1 "$rounds"); do
        sent0=$(tiktok_fake_sent)
        off0=$(live_last_offset) || live_fail "GET /sessions/$L_SID failed"
        t0=$(date +%s.%N)
        live_fanout "tiktok-$i" 1 "$duration" "$url"
        t1=$(date +%s.%N)
        off1=$(live_last_offset) || live_fail "GET /sessions/$L_SID failed"
        sent1=$(tiktok_fake_sent)
        [ "$sent1" -lt "$messages" ] \
            || live_fail "round $i: the fake sent all of its $messages messages (raise BENCH_TIKTOK_MESSAGES)"
        read -r v_dps v_gaps v_err < <(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(d["deliveries_per_s"], d["gaps"], d["errors"])' "$L_JSON")
        [ "$v_gaps" = 0 ] || live_fail "round $i: $v_gaps offset gaps (lost or repeated events): $L_JSON"
        [ "$v_err" = 0 ] || echo "round $i: the client saw $v_err errors: $L_JSON"
        stored=$(awk -v a="$off0" -v b="$off1" -v s="$t0" -v e="$t1" 'BEGIN { print (b - a) / (e - s) }')
        sent=$(awk -v a="$sent0" -v b="$sent1" -v s="$t0" -v e="$t1" 'BEGIN { print (b - a) / (e - s) }')
        dlv+=("$v_dps"); sto+=("$stored"); snt+=("$sent")
        printf 'round %d end-to-end: %.0f events/s delivered  %.0f events/s stored  %.0f messages/s (%.0f events/s) sent by the fake (%s dropped)\n' \
            "$i" "$v_dps" "$stored" "$sent" "$(awk -v s="$sent" -v r="$ratio" 'BEGIN { print s * r }')" \
            "$(tiktok_dropped "$sent" "$ratio" "$stored")"
    done

    dropped=$(grep -o '[0-9]* live events dropped so far' "$L_WORK/profile-live.log" | tail -n 1 | cut -d ' ' -f 1 || true)
    echo "tiktok: live events the sidecar dropped in all (inbox full: the database behind): at least ${dropped:-0} (its log counts in powers of two)"
    if grep -E '\[(error|crit|alert|emerg)\]|exit signal|Segmentation fault' "$L_WORK/error.log" >&2; then
        live_fail "httpd logged errors during the bench (above)"
    fi
    if grep -E '\[error\]' "$L_WORK/profile-live.log" >&2; then
        live_fail "the sidecar logged errors during the bench (above)"
    fi
    kill -0 "$L_SIDECAR_PID" 2>/dev/null || live_fail "the sidecar died during the bench"

    printf 'median decode: %.0f frames/s  %.0f events/s  %.1f MB/s\n' \
        "$(tiktok_median <<<"${fps[*]}")" "$(tiktok_median <<<"${eps[*]}")" \
        "$(awk -v b="$(tiktok_median <<<"${bps[*]}")" 'BEGIN { print b / 1e6 }')"
    sent=$(tiktok_median <<<"${snt[*]}")
    stored=$(tiktok_median <<<"${sto[*]}")
    printf 'median end-to-end: %.0f events/s delivered  %.0f events/s stored  %.0f messages/s (%.0f events/s) sent by the fake (%s dropped)\n' \
        "$(tiktok_median <<<"${dlv[*]}")" "$stored" "$sent" \
        "$(awk -v s="$sent" -v r="$ratio" 'BEGIN { print s * r }')" "$(tiktok_dropped "$sent" "$ratio" "$stored")"
}
