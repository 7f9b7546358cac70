# shellcheck shell=bash
# Sourced by test/bench/run: the live target (live_main), on the helpers of lib.sh.
#
# The live target (test/bench/run live): one replay session at BENCH_LIVE_RATE events/s
# fanned out to BENCH_LIVE_CONNECTIONS WebSocket subscribers, through httpd (mod_proxy_http
# upgrade=websocket behind AuthType Profile) and straight to the sidecar, alternating rounds.
# Everything runs in a scratch directory: a private PostgreSQL, build/profile-live and httpd
# with build/mod_profile.so. The subscribers are test/bench/ws_fanout.c (libwebsockets),
# built here with gcc. Per round it prints deliveries/s, the p50/p99 latency from the event's
# creation ("time", set by the replay source) to its receipt, and the sidecar's RSS per
# connection ((VmRSS with every client connected - VmRSS before the first client ever
# connected) / clients; the baseline is taken once because freed memory stays in the process).
# The last line is the ratio of deliveries/s through httpd to deliveries/s direct.
# Knobs (environment): BENCH_LIVE_CONNECTIONS (1000), BENCH_LIVE_RATE (200 events/s),
# BENCH_LIVE_ROUNDS (3), BENCH_LIVE_DURATION (10 s per round and target),
# BENCH_LIVE_PROCS (2 client processes), BENCH_LIVE_CLIENT_QUEUE (1024, the sidecar's
# client_queue: a subscriber lagging more events is cut with 4008, which the round reports),
# BENCH_LIVE_KEEP (1: keep the scratch directory and its logs).

live_main() {
    local conns=${BENCH_LIVE_CONNECTIONS:-1000} rate=${BENCH_LIVE_RATE:-200}
    local rounds=${BENCH_LIVE_ROUNDS:-3} duration=${BENCH_LIVE_DURATION:-10}
    local queue=${BENCH_LIVE_CLIENT_QUEUE:-1024}
    local recording lines
    local ring baseline offset0 t0 offset1 t1 i label order v
    local v_conn v_dps v_p50 v_p99 v_gaps v_cs v_min v_idle v_err
    local -A dps p50 p99 rss cut
    L_PROCS=${BENCH_LIVE_PROCS:-2}

    [ "$rate" -ge 1 ] && [ "$rate" -le 1000 ] || die "BENCH_LIVE_RATE must be 1..1000 events/s"
    # The sidecar wants client_queue < session_buffer; the ring must be full (its frames
    # allocated) before the RSS baseline, so it is kept small: 2 x client_queue.
    ring=$(( 2 * queue ))

    live_setup profile-bench-live

    # The recording: comments whose "time" values are 1/rate s apart, long enough that the
    # whole bench plays it once (replay loops with a one-second pause between passes, which
    # would dent the rate); looping is still on in case the machine is slow.
    recording="bench-$rate"
    lines=$(( rate * (2 * rounds * (duration + 10) + 90) ))
    mkdir -p "$L_WORK/replay"
    python3 - "$L_WORK/replay/$recording.ndjson" "$rate" "$lines" <<'EOF'
import datetime, json, sys
path, rate, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
step_us = 1000000 // rate
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
users = [{"id": str(7100000000000000000 + i), "username": "bench_viewer_%02d" % i,
          "nickname": "Bench viewer %d" % i,
          "avatar_url": "https://p16-sign.tiktokcdn.com/bench/%02d.jpeg" % i} for i in range(50)]
texts = ["hi", "hello from the bench", "what a stream!", "how long have you been live?",
         "this song is great, what is it called?", "greetings from somewhere far away",
         "lol", "can you say hi to my friend please"]
with open(path, "w") as f:
    for k in range(lines):
        t = t0 + datetime.timedelta(microseconds=k * step_us)
        frac = ".%03d" % (t.microsecond // 1000) if step_us % 1000 == 0 else ".%06d" % t.microsecond
        ev = {"type": "comment", "id": "bench-%07d" % k,
              "time": t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z",
              "user": users[k % len(users)], "text": texts[k % len(texts)]}
        f.write(json.dumps(ev, separators=(",", ":")) + "\n")
EOF

    live_start_sidecar "replay_dir = $L_WORK/replay
replay_speed = 1
replay_loop = yes
# A small ring (2 x client_queue), so it is full (and the RSS baseline steady) soon.
session_buffer = $ring
# Subscribers may lag this many events before they are cut (close 4008).
client_queue = $queue
max_clients = $(( conns + 1000 ))"
    live_start_httpd "$conns"

    live_connect "{\"username\":\"bench\",\"source\":\"replay\",\"options\":{\"recording\":\"$recording\",\"loop\":true}}"

    # Live, and the ring full, before the RSS baseline.
    live_wait_offset $(( ring + rate ))
    baseline=$(live_rss)

    L_HTTPD_URL="ws://127.0.0.1:$L_HTTP_PORT/ws/comments/$L_SID?api_key=$L_API_KEY"
    L_DIRECT_URL="ws://127.0.0.1:$L_SIDE_PORT/ws/comments/$L_SID"
    echo "live: session $L_SID replaying $recording ($lines comments, \"time\" $(awk -v r="$rate" 'BEGIN { print 1000 / r }') ms apart) at $rate events/s"
    echo "live: $conns subscribers from $L_PROCS ws_fanout processes, $rounds rounds of ${duration}s per target, $(nproc) CPUs"
    echo "live: httpd = ws://127.0.0.1:$L_HTTP_PORT/ws/comments/$L_SID?api_key=… (AuthType Profile," \
         "ProxyPass upgrade=websocket, MaxRequestWorkers $L_MAX_WORKERS);" \
         "direct = ws://127.0.0.1:$L_SIDE_PORT/ws/comments/$L_SID (signed identity headers)"
    echo "live: sidecar RSS before any subscriber: $baseline kB"

    # Warm-up: a few clients on each path, which also proves both paths deliver.
    live_fanout warmup-httpd 50 2 "$L_HTTPD_URL"
    [ "$L_FANOUT_RC" = 0 ] || live_fail "warm-up through httpd: $L_JSON"
    live_sign
    live_fanout warmup-direct 50 2 "$L_DIRECT_URL" "${L_IDENT[@]}"
    [ "$L_FANOUT_RC" = 0 ] || live_fail "warm-up direct: $L_JSON"
    offset0=$(live_last_offset) || live_fail "GET /sessions/$L_SID failed"
    t0=$(date +%s.%N)

    for i in $(seq 1 "$rounds"); do
        # Alternate which target goes first.
        if [ $(( i % 2 )) = 1 ]; then order="httpd direct"; else order="direct httpd"; fi
        for label in $order; do
            if [ "$label" = httpd ]; then
                live_fanout "httpd-$i" "$conns" "$duration" "$L_HTTPD_URL"
            else
                live_sign
                live_fanout "direct-$i" "$conns" "$duration" "$L_DIRECT_URL" "${L_IDENT[@]}"
            fi
            read -r v_conn v_dps v_p50 v_p99 v_gaps v_cs v_min v_idle v_err < <(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(d["connected"], d["deliveries_per_s"], d["p50_ms"], d["p99_ms"], d["gaps"], d["connect_s"],
      d["min_conn_deliveries"], d["idle_connections"], d["errors"])' "$L_JSON")
            if [ "$v_err" != 0 ]; then
                cut[$label]=$(( ${cut[$label]:-0} + v_err ))
                python3 -c 'import json, sys
d = json.loads(sys.argv[1])
codes = ", ".join("%s %d" % (k[6:], v) for k, v in d.items() if k.startswith("close_") and v)
print("round %s %s: %d errors: %d subscribers closed early (close codes: %s), %d bad messages; first: %s"
      % (sys.argv[2], sys.argv[3], d["errors"], d["closed"], codes or "none", d["errors"] - d["closed"],
         d["first_error"]))' "$L_JSON" "$i" "$label"
            fi
            [ "$v_gaps" = 0 ] || live_fail "$label round $i: $v_gaps offset gaps (lost or repeated events): $L_JSON"
            [ -n "${L_RSS_WITH:-}" ] || live_fail "$label round $i: no RSS sample"
            v=$(awk -v w="$L_RSS_WITH" -v b="$baseline" -v n="$v_conn" 'BEGIN { printf "%.1f", (w - b) / n }')
            dps[$label]+="$v_dps "
            p50[$label]+="$v_p50 "
            p99[$label]+="$v_p99 "
            rss[$label]+="$v "
            printf 'round %d %-6s: %d connected in %.2fs  %.0f deliveries/s (%.1f per subscriber, slowest %d in %ds, %d idle)  p50 %.1f ms  p99 %.1f ms  RSS %d kB before, %d kB connected: %s kB/conn\n' \
                "$i" "$label" "$v_conn" "$v_cs" "$v_dps" "$(awk -v a="$v_dps" -v n="$v_conn" 'BEGIN { print a / n }')" \
                "$v_min" "$duration" "$v_idle" "$v_p50" "$v_p99" "$L_RSS_BEFORE" "$L_RSS_WITH" "$v"
            L_RSS_WITH=""
        done
    done
    offset1=$(live_last_offset) || live_fail "GET /sessions/$L_SID failed"
    t1=$(date +%s.%N)

    lmed() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    for label in httpd direct; do
        printf 'median %-6s: %.0f deliveries/s  p50 %.1f ms  p99 %.1f ms  sidecar RSS %.1f kB per connection  (%d errors in all rounds)\n' "$label" \
            "$(lmed <<<"${dps[$label]}")" "$(lmed <<<"${p50[$label]}")" "$(lmed <<<"${p99[$label]}")" \
            "$(lmed <<<"${rss[$label]}")" "${cut[$label]:-0}"
    done
    awk -v a="$offset0" -v b="$offset1" -v s="$t0" -v e="$t1" \
        'BEGIN { printf "source: %.1f events/s (offsets %d to %d in %.1f s)\n", (b - a) / (e - s), a, b, e - s }'

    if grep -E '\[(error|crit|alert|emerg)\]|exit signal|Segmentation fault' "$L_WORK/error.log" >&2; then
        live_fail "httpd logged errors during the bench (above)"
    fi
    if [ -f "$L_WORK/profile-live.log" ] && grep -E '\[error\]' "$L_WORK/profile-live.log" >&2; then
        live_fail "the sidecar logged errors during the bench (above)"
    fi
    kill -0 "$L_SIDECAR_PID" 2>/dev/null || live_fail "the sidecar died during the bench"

    awk -v a="$(lmed <<<"${dps[httpd]}")" -v b="$(lmed <<<"${dps[direct]}")" \
        'BEGIN { printf "ratio httpd/direct deliveries: %.2f\n", a / b }'
}
