#!/usr/bin/env bash
# Circuit breakers in the lab, with real failures:
#  crash: b2's server is killed. Its breaker trips to OPEN (TCP checks every
#    200 ms, fall 2; refused connects count too) and new flows skip it: a
#    burst of connections all succeed, none on b2. The server comes back:
#    the check rises, the breaker goes HALF_OPEN (its trial tokens in the
#    data path), the trial flows succeed, CLOSED, and b2 takes flows again.
#  black hole: no active check this time; every packet to and from b2 is
#    dropped inside its namespace. New connections that land on b2 hang in
#    PENDING; the reaper's scan sees their connect_timeout (200 ms) and
#    three in a row trip the breaker (reason: connect_timeout). Repaired,
#    it recovers through HALF_OPEN as before.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
brk='breaker = { consecutive_failures = 3; open_ms = 1000; open_max_ms = 2000; half_open_trials = 3; };'
check='check = { type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 2; fall = 2; };'
LAB_SVC_EXTRA="connect_timeout_ms = 200; on_trip = \"reset\"; $brk $check"
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
b2="${LAB_BK4[2]}:$LAB_PORT"

# burst N: N fresh connections; fails on any failure or any on b2 when $2 = no-b2
burst() {
	local out
	lab_sports "$1" || return 1
	out=$(lab_exec c "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" --sport-base "$LAB_SPORT" \
		--count "$1" --max-fail 5)
	echo "  burst of $1: $(printf '%s\n' "$out" | lab_spread /dev/stdin)"
	if printf '%s\n' "$out" | grep -q FAIL; then
		printf '%s\n' "$out" | grep FAIL | head -5 | sed 's/^/  /'
		return 1
	fi
	if [ "${2:-}" = no-b2 ] && printf '%s\n' "$out" | grep -q ' b2$'; then
		lab_log "a new flow landed on b2 while its breaker is open"
		return 1
	fi
	BURST_B2=$(printf '%s\n' "$out" | grep -c ' b2$' || true)
}

burst 60 || lab_fail "all backends healthy"
[ "$BURST_B2" -gt 0 ] || lab_fail "b2 took no flow while healthy"
lab_wait_gate 2 closed 1 || lab_fail "b2 not closed at start"

echo "crash: b2's server killed"
lab_bg "$LAB_DIR/mon" gw "$LAB_BUILD/sluice" -R "$LAB_RUN_DIR" -j monitor
mon=$LAB_LAST_PID
lab_wait_lines "$LAB_DIR/mon" 'monitoring' 1 100 || lab_fail "sluice monitor did not start"
lab_backend_stop 2
lab_wait_gate 2 open 50 || lab_fail "b2's breaker did not open"
# the trip as `sluice -j monitor` sees it: one JSON object, with its reason
for ((k = 0; k < 200; k++)); do
	# -s: jq -e's status is its last input's, and later events may follow
	grep '^{' "$LAB_DIR/mon" | jq -s -e --arg a "${LAB_BK4[2]}" 'any(.[]; .event == "breaker" and .addr == $a and
		.from == "closed" and .to == "open" and .cause == "automatic" and (.why | length) > 0 and .enforced)' \
		>/dev/null 2>&1 && break
	sleep 0.1
done
((k < 200)) || lab_fail "sluice -j monitor saw no trip event in 20 s: $(cat "$LAB_DIR/mon")"
echo "  monitor: $(grep '^{' "$LAB_DIR/mon" | jq -c --arg a "${LAB_BK4[2]}" 'select(.event == "breaker" and .addr == $a)' | head -n 1)"
kill "$mon"
grep "breaker web $b2: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  /'
burst 60 no-b2 || lab_fail "new flows while b2 is open"

echo "repair: b2's server back"
lab_backend_start 2 || lab_fail "restarting b2's server"
lab_wait_gate 2 half_open 100 || lab_fail "b2's breaker did not go half-open"
grep "health: web $b2 tcp: down -> up" "$LAB_SLUICED_LOG" >/dev/null || lab_fail "no health transition down -> up logged"
burst 60 || lab_fail "new flows while b2 is half-open"
lab_wait_gate 2 closed 50 || lab_fail "b2's breaker did not close after its trials"
grep "breaker web $b2: half_open -> closed" "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  /'
burst 60 || lab_fail "new flows after recovery"
[ "$BURST_B2" -gt 0 ] || lab_fail "b2 took no flow after recovery"

echo "black hole: b2 drops everything, no active check (passive signals only)"
LAB_SVC_EXTRA="connect_timeout_ms = 200; on_trip = \"reset\"; $brk"
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload without checks"
lab_blackhole 2 on || lab_fail "nft"
lab_sports 200 || lab_fail "lab_sports"
lab_bg "$LAB_DIR/rate.out" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds 2 --rate 50 \
	--concurrency 200 --timeout-ms 2500 --sport-base "$LAB_SPORT" --sport-count 200
lab_wait_gate 2 open 50 || lab_fail "b2's breaker did not open from connect timeouts"
grep "breaker web $b2: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | grep -q connect_timeout ||
	lab_fail "the trip's reason is not connect_timeout: $(grep "breaker web $b2: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1)"
grep "breaker web $b2: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  /'
t=$(lab_bk_field 2 timeouts)
echo "  b2: connect timeouts claimed by the data path: $t (the reaper's scan claims the rest)"
lab_wait_pid "$LAB_LAST_PID" 100
burst 60 no-b2 || lab_fail "new flows while b2 is black-holed and open"

echo "repair: b2 reachable again"
lab_blackhole 2 off || lab_fail "nft"
lab_wait_gate 2 half_open 100 || lab_fail "b2's breaker did not go half-open"
burst 60 || lab_fail "new flows while b2 is half-open"
lab_wait_gate 2 closed 50 || lab_fail "b2's breaker did not close after its trials"
burst 60 || lab_fail "new flows after recovery"
[ "$BURST_B2" -gt 0 ] || lab_fail "b2 took no flow after recovery"
echo "PASS"
