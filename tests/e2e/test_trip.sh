#!/usr/bin/env bash
# What happens to established flows when their backend is taken out, and
# to idle ones:
#  on_trip = "reset": b2 is forced open; the keep-alive connection on b2 is
#    reset by the gateway at its next packet (the client sees a reset, the
#    data path counts trip_reset), while a connection on another backend
#    goes on; new connections avoid b2.
#  on_trip = "keep": forced open again; the connection on b2 keeps working.
#  drain_timeout_ms: b2 drained; its connection keeps working until the
#    timeout, then it is reset; also when sluiced restarts in the drain
#    (the deadline is pinned with the backend).
#  idle_timeout_s: an idle connection's entry is removed by the reaper and
#    its unit of b2's active count given back.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals
SLUICE=$LAB_BUILD/sluice
sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
B=${LAB_BK4[2]}
LAB_SVC_EXTRA='on_trip = "reset";'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

# hold_on NAME BACKEND: a keep-alive connection that Maglev sends to BACKEND
hold_on() {
	lab_sport_for "$conf" web "$2" || lab_fail "no source port for $2"
	lab_hold_start "$1" "$LAB_VIP4" 60 "$LAB_SPORT" || lab_fail "keep-alive connection $1"
	[ "$LAB_HOLD_BACKEND" = "$2" ] || lab_fail "keep-alive $1 on $LAB_HOLD_BACKEND, wanted $2"
}
# hold_reset NAME: the hold ends with a failed request (bounded: 10 s)
hold_reset() {
	local pidvar=LAB_HOLD_PID_$1
	lab_wait_pid "${!pidvar}" 100
	grep -q 'FAIL' "$LAB_DIR/hold.$1" || lab_fail "keep-alive $1 was not reset: $(tail -n 2 "$LAB_DIR/hold.$1")"
	grep 'FAIL' "$LAB_DIR/hold.$1" | sed 's/^/  /'
}
# reconfig SVC_EXTRA: the three backends with these service settings, reloaded
reconfig() {
	LAB_SVC_EXTRA=$1
	lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
	lab_reload_sluiced || lab_fail "reload"
}
reason() { "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v r="$1" '$1 == "reason" && $2 == r { print $3 }'; }

echo "on_trip = reset: b2 forced open resets its keep-alive connection"
hold_on r2 b2
hold_on r1 b1
sl breaker open web "$B" || lab_fail "breaker open"
hold_reset r2
[ "$(reason trip_reset)" -ge 1 ] || lab_fail "trip_reset not counted"
[ "$(lab_bk_field 2 trip_resets)" -ge 1 ] || lab_fail "b2's trip_resets not counted"
lab_hold_advance r1 5 || lab_fail "the connection on b1 stalled"
lab_hold_stop r1 b1 || lab_fail "the connection on b1"
sl breaker auto web "$B" || lab_fail "breaker auto"
lab_wait_gate 2 closed 20 || lab_fail "b2 not closed after auto"
! "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | grep " $B:$LAB_PORT " | grep -qw reset ||
	lab_fail "b2 still resetting after auto"

echo "on_trip = keep: b2 forced open keeps its keep-alive connection"
reconfig 'on_trip = "keep"; drain_timeout_ms = 1000;'
hold_on k2 b2
sl breaker open web "$B" || lab_fail "breaker open"
lab_hold_advance k2 10 || lab_fail "the connection on b2 stalled though on_trip = keep"
lab_hold_stop k2 b2 || lab_fail "the connection on b2 broke though on_trip = keep"
sl breaker auto web "$B" || lab_fail "breaker auto"

echo "drain with drain_timeout_ms = 1000: kept, then reset"
hold_on d2 b2
sl breaker drain web "$B" || lab_fail "breaker drain"
lab_hold_advance d2 3 || lab_fail "the draining connection stalled before the timeout"
hold_reset d2
grep -q "backend web $B:$LAB_PORT: established flows are reset .*drain_timeout expired" "$LAB_SLUICED_LOG" ||
	lab_fail "the drain timeout is not logged"
sl breaker auto web "$B" || lab_fail "breaker auto"

echo "drain with drain_timeout_ms = 3000, sluiced restarted in the drain: the new one resets on time"
reconfig 'on_trip = "keep"; drain_timeout_ms = 3000;'
hold_on e2 b2
sl breaker drain web "$B" || lab_fail "breaker drain"
lab_stop_sluiced >/dev/null
lab_start_sluiced "$conf" || lab_fail "sluiced did not start again"
last_run() { awk '/^==== lab: start:/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$LAB_SLUICED_LOG"; }
last_run | grep -q "breaker web $B:$LAB_PORT: mode draining kept from the previous sluiced" ||
	lab_fail "the drain was not kept across the restart"
hold_reset e2
last_run | grep -q "backend web $B:$LAB_PORT: established flows are reset .*drain_timeout expired" ||
	lab_fail "the new sluiced did not end the drain"
sl breaker auto web "$B" || lab_fail "breaker auto"

echo "idle_timeout_s = 2: an idle connection's entry is reaped, its unit given back"
LAB_SVC_EXTRA='idle_timeout_s = 2;'
LAB_TOP_EXTRA='reconcile_ms = 200; closing_timeout_s = 1;'
lab_write_config "$conf" v4 2 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload"
for ((k = 0; k < 100; k++)); do [ "$(lab_bk_field 2 active)" = 0 ] && break; sleep 0.1; done
lab_bg "$LAB_DIR/idle.out" c "$LAB_TOOLS/slconn" open "$LAB_VIP4" "$LAB_PORT" --count 3 \
	--stop-file "$LAB_DIR/idle.stop" --seconds 60
idler=$LAB_LAST_PID
lab_wait_lines "$LAB_DIR/idle.out" '^open: established 3 failed 0' 1 100 || lab_fail "idle connections"
[ "$(lab_bk_field 2 active)" = 3 ] || lab_fail "b2's active is $(lab_bk_field 2 active) with 3 idle connections"
for ((k = 0; k < 100; k++)); do [ "$(lab_bk_field 2 active)" = 0 ] && break; sleep 0.1; done
[ "$(lab_bk_field 2 active)" = 0 ] || lab_fail "idle entries not reaped: b2's active is $(lab_bk_field 2 active)"
# closing entries of the earlier connections go after closing_timeout_s: the table empties
for ((k = 0; k < 100; k++)); do
	"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | grep -q "^table backend" || break
	sleep 0.1
done
"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | grep -q "^table backend" &&
	lab_fail "entries left in the table: $("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | grep '^table')"
touch "$LAB_DIR/idle.stop"
lab_wait_pid "$idler" 100
echo "PASS"
