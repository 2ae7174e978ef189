#!/usr/bin/env bash
# Failure drills in the lab (`make bench`, part "drill"): a client opens
# new connections at DRILL_RATE per second (200) while one backend fails.
#   drill.crash      b2's server is killed (its kernel refuses connects)
#   drill.blackhole  every packet to and from b2 is dropped in its namespace
# Settings as the resilience issue asks: connect_timeout 200 ms, TCP checks
# every 200 ms with fall 2, a passive trip after 3 consecutive failures.
# One JSON line each on stdout:
#   detect_ms  from the injection to b2's gate leaving CLOSED (build/tests/e2e/sldrill)
#   failed     client connections that failed (refused, reset or timed out)
#   attempted  client connections started
#   redispatched             flows the data path moved off b2 (refused or timed out)
#   added_connect_ms_p50/p99 connect latency added to the affected connections:
#       the client logs every connect's duration; the affected ones are taken
#       to be the `redispatched` slowest, and what each took beyond the
#       median connect of the run is what the failure added
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATE=${DRILL_RATE:-200}
SECS=${DRILL_SECONDS:-4}
exec 3>&1 1>&2
LAB_PREFIX=sld$$
# shellcheck disable=SC1091
. "$TOP/tests/e2e/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA='connect_timeout_ms = 200; on_trip = "reset";
    check = { type = "tcp"; interval_ms = 200; timeout_ms = 200; rise = 2; fall = 2; };
    breaker = { consecutive_failures = 3; open_ms = 5000; };'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"

# drill NAME INJECT_CMD...: fresh sluiced, load, inject at 1 s, report
drill() {
	local name=$1 id out det att fail
	shift
	lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
	id=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v a="${LAB_BK4[2]}:$LAB_PORT" '$1 == "backend" && $3 == a { print $2 }')
	lab_sports 10000 || lab_fail "lab_sports"
	lab_bg "$LAB_DIR/$name.rate" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds "$SECS" \
		--rate "$RATE" --concurrency 1000 --timeout-ms 3000 --sport-base "$LAB_SPORT" --sport-count 10000 \
		--connect-log "$LAB_DIR/$name.connect"
	local rate_pid=$LAB_LAST_PID
	sleep 1
	out=$("$LAB_TOOLS/sldrill" "$LAB_PIN_ROOT" "$id" 5000 -- "$@")
	lab_wait_pid "$rate_pid" 300
	grep 'sport' "$LAB_DIR/$name.rate" | head -n 5 | sed "s/^/drill.$name: /" >&2
	det=$(echo "$out" | awk '{ print $2 }')
	att=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "attempted") print $(i + 1) }' "$LAB_DIR/$name.rate")
	fail=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "failed") print $(i + 1) }' "$LAB_DIR/$name.rate")
	moved=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "backend" { for (i = 4; i < NF; i++) if ($i == "redispatched") n += $(i + 1) } END { print n + 0 }')
	added=$(awk '{ print $2 }' "$LAB_DIR/$name.connect" | sort -n | awk -v m="$moved" '
		{ v[NR] = $1 }
		END {
			if (!NR) { print "null null"; exit }
			med = v[int((NR + 1) / 2)]
			if (m < 1) { print "0 0"; exit }
			if (m > NR) m = NR
			# the m slowest: v[NR - m + 1 .. NR]; their p50 and p99, minus the median
			lo = NR - m + 1
			p50 = v[lo + int((m - 1) * 0.50)]; p99 = v[lo + int((m - 1) * 0.99)]
			printf "%.1f %.1f\n", (p50 - med) / 1000, (p99 - med) / 1000 }')
	printf '{"bench":"drill.%s","detect_ms":%s,"failed":%s,"attempted":%s,"redispatched":%s,"added_connect_ms_p50":%s,"added_connect_ms_p99":%s,"rate":%s,"connect_timeout_ms":200,"target_added_p99_ms":250}\n' \
		"$name" "${det/-/null}" "${fail:-null}" "${att:-null}" "$moved" "${added% *}" "${added#* }" "$RATE" >&3
	lab_stop_sluiced >/dev/null
	lab_detach "$conf" >/dev/null
}

drill crash kill "$(cat "$LAB_DIR/b2/pid")"
lab_backend_start 2 || lab_fail "restarting b2"
drill blackhole nsenter --net="/run/netns/$LAB_PREFIX-b2" -- nft -f "$TOP/bench/blackhole.nft"
lab_blackhole 2 off
