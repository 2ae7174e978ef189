#!/usr/bin/env bash
# Redispatch in the lab: a client makes a steady stream of new connections
# (100 a second) while one backend fails; no connection may fail.
#  (a) b2's server is killed: its kernel refuses the connects; each refusal
#      is turned into the client's SYN to another backend.
#  (b) b2 is black-holed: its connects stay pending; at connect_timeout
#      (200 ms) the daemon sends the client's rebuilt SYN elsewhere. The
#      moved flows are counted (redispatched) and the client retransmitted
#      no SYN (its kernel's TcpExtTCPSynRetrans did not move).
#  (c) b2 is slowed (its SYN-ACKs held 300 ms in its namespace): with
#      slow_call_ms = 100 and slow_call_rate = 50 its breaker trips on slow
#      calls.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA='connect_timeout_ms = 200; redispatch_max = 2;
    breaker = { consecutive_failures = 3; open_ms = 60000; open_max_ms = 60000; };'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

# stream NAME SECONDS: 100 new connections a second from fresh ports, in the background
stream() {
	lab_sports $((100 * $2 + 10)) || lab_fail "lab_sports"
	lab_bg "$LAB_DIR/$1.rate" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds "$2" \
		--rate 100 --concurrency 500 --timeout-ms 3000 --sport-base "$LAB_SPORT" --sport-count $((100 * $2 + 10))
	STREAM_PID=$LAB_LAST_PID
}
# stream_done NAME: wait for it; fail on any failed connection
stream_done() {
	lab_wait_pid "$STREAM_PID" 300
	sed 's/^/  /' "$LAB_DIR/$1.rate" | grep -v '^  backend'
	grep -q '^rate: attempted [0-9]* ok [0-9]* failed 0$' "$LAB_DIR/$1.rate" ||
		lab_fail "$1: connections failed: $(grep 'sport' "$LAB_DIR/$1.rate" | head -n 3)"
}
moved() { lab_bk_field 2 redispatched; }

echo "(a) b2's server killed under a stream of new connections"
stream crash 3
sleep 1
lab_backend_stop 2
stream_done crash
echo "  b2: refused $(lab_bk_field 2 refused), moved $(moved), gate $(lab_gate 2)"
[ "$(lab_bk_field 2 refused)" -ge 1 ] || lab_fail "no refused connect seen: the drill did not happen"
[ "$(moved)" -ge 1 ] || lab_fail "refused connects were not redispatched"

echo "(b) b2 black-holed (no active check: passive signals only)"
lab_backend_start 2 || lab_fail "restarting b2"
lab_stop_sluiced >/dev/null; lab_detach "$conf" >/dev/null
lab_start_sluiced "$conf" || lab_fail "sluiced did not start again"
r0=$(lab_syn_retrans)
stream blackhole 3
sleep 1
lab_blackhole 2 on || lab_fail "nft"
stream_done blackhole
r1=$(lab_syn_retrans)
m=$(moved)
echo "  b2: connect timeouts $(lab_bk_field 2 timeouts) claimed by the data path, moved $m, gate $(lab_gate 2); client SYN retransmissions $r0 -> $r1"
((m >= 1)) || lab_fail "no flow was redispatched off the black-holed b2"
[ "$r1" = "$r0" ] || lab_fail "the client retransmitted $((r1 - r0)) SYN(s): flows waited for it"
lab_blackhole 2 off

echo "(c) b2 slowed: its SYN-ACKs held 300 ms"
LAB_SVC_EXTRA='connect_timeout_ms = 1000;
    breaker = { consecutive_failures = 3; window = 10; min_volume = 5; slow_call_ms = 100; slow_call_rate = 50; open_ms = 60000; };'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_stop_sluiced >/dev/null; lab_detach "$conf" >/dev/null
lab_start_sluiced "$conf" || lab_fail "sluiced did not start again"
lab_slow 2 300 || lab_fail "lab_slow"
stream slow 3
lab_wait_gate 2 open 60 || lab_fail "b2's breaker did not trip on slow calls"
grep "breaker web ${LAB_BK4[2]}:$LAB_PORT: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  /'
grep "breaker web ${LAB_BK4[2]}:$LAB_PORT: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | grep -q 'slow_calls' ||
	lab_fail "the trip's reason is not slow_calls"
[ "$(lab_bk_field 2 slow_calls)" -ge 5 ] || lab_fail "slow calls not counted: $(lab_bk_field 2 slow_calls)"
stream_done slow
lab_slow 2 off
echo "PASS"
