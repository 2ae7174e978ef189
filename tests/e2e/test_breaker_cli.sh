#!/usr/bin/env bash
# The breaker CLI against a running sluiced in the lab: every breaker starts
# closed in mode auto; `sluice breaker drain web B` makes `breaker show -j`
# say draining (gate draining), new connections avoid B while an established
# keep-alive connection on B keeps working; `breaker open` gives forced_open
# (gate open), `breaker auto` closed again, and B gets new connections as
# Maglev predicts; `sluice -j monitor` in the background sees each
# transition (event breaker, signal manual, cause runtime, uid 0); a reload
# does not undo a mode; an unknown backend or service exits 2 with the
# daemon's message, bad arguments exit 1, a non-root user is refused.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
command -v jq >/dev/null || lab_skip "jq not installed (make deps)"
command -v setpriv >/dev/null || lab_skip "setpriv not installed"
trap lab_down EXIT
lab_trap_signals

sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
sl_nobody() { lab_gw_exec setpriv --reuid=65534 --regid=65534 --clear-groups "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
# brk ADDR JQ: a field of web's backend ADDR in `breaker show -j`
brk() { sl -j breaker show web "$1" | jq -r "$2"; }
# want_state ADDR BREAKER MODE GATE
want_state() {
	local got
	got=$(sl -j breaker show web "$1" | jq -r '"\(.breaker) \(.breaker_mode) \(.gate)"') ||
		lab_fail "breaker show web $1: exit $?"
	[ "$got" = "$2 $3 $4" ] || lab_fail "web $1: breaker/mode/gate '$got', want '$2 $3 $4'"
}

# the background monitor (as test_monitor.sh): output in $LAB_DIR/mon
monitor() {
	lab_bg "$LAB_DIR/mon" gw "$SLUICE" -R "$LAB_RUN_DIR" -j monitor
	MON_PID=$LAB_LAST_PID
	lab_wait_lines "$LAB_DIR/mon" '^sluice: monitoring events' 1 100 ||
		lab_fail "monitor did not start: $(cat "$LAB_DIR/mon")"
}
# breaker events seen so far (config events are left out)
bevents() { grep '^{' "$LAB_DIR/mon" | jq -c 'select(.event == "breaker")'; }
# want_event N FROM TO: the N-th breaker event (1-based) is B's FROM -> TO, by us
want_event() {
	local i
	for ((i = 0; i < 50; i++)); do
		(($(bevents | wc -l) >= $1)) && break
		sleep 0.2
	done
	bevents | sed -n "$1p" | jq -e --arg a "$B" --arg f "$2" --arg t "$3" '
		.service == "web" and .addr == $a and .port == 80 and .from == $f and .to == $t and
		.signal == "manual" and .cause == "runtime" and .uid == 0 and (.pid > 0) and
		(.time_ns > 0) and has("why") and has("enforced")' >/dev/null ||
		lab_fail "breaker event $1: want $2 -> $3 of $B, got: $(bevents | sed -n "$1p")"
}
# burst_avoiding NAME N: N new connections to web, all answered, none by NAME
burst_avoiding() {
	local out
	lab_sports "$2" || return 1
	out=$LAB_DIR/avoid.$LAB_SPORT
	timeout 120 nsenter --net="/run/netns/$LAB_PREFIX-c" -- "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" \
		--sport-base "$LAB_SPORT" --count "$2" --max-fail 5 >"$out" 2>"$out.err" ||
		{ lab_log "slconn burst: $(cat "$out.err")"; return 1; }
	echo "  $2 connections; spread: $(lab_spread "$out")"
	[ "$(grep -c . "$out")" = "$2" ] || { lab_log "$(grep -c . "$out") results for $2 connections"; return 1; }
	! grep -q FAIL "$out" || { grep FAIL "$out" | head -5 >&2; return 1; }
	! awk '{ print $2 }' "$out" | grep -qx "$1" || { lab_log "connections landed on $1"; return 1; }
}

lab_up || lab_fail "lab_up"
chmod 0755 "$LAB_DIR"           # let the unprivileged user reach the port id file
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
B=${LAB_BK4[2]}

echo "breakers run: every backend of web closed, mode auto, gate closed"
out=$(sl -j breaker show web) || lab_fail "breaker show web: exit $?"
jq -e 'length == 3 and all(.[]; .breaker == "closed" and .breaker_mode == "auto" and .gate == "closed" and
	has("health") and has("trips") and .capped == false and .panic == false)' <<<"$out" >/dev/null ||
	lab_fail "breaker show -j: $out"
sl breaker show | grep -q '^SERVICE  *BACKEND  *STATE  *MODE  *GATE  *HEALTH' || lab_fail "breaker show: no header"
[ "$(sl breaker show web | grep -c "^web  *198\.19\.0\.1[123]:$LAB_PORT  *closed  *auto  *closed ")" = 3 ] ||
	lab_fail "breaker show web text: $(sl breaker show web)"
sl -j backend show web "$B" | jq -e '.breaker == "closed" and .breaker_mode == "auto"' >/dev/null ||
	lab_fail "backend show -j has no breaker: $(sl -j backend show web "$B")"
sl backend list web | grep -q "^  -> $B:$LAB_PORT  *1 closed " || lab_fail "backend list text: $(sl backend list web)"
monitor

echo "drain b2: draining; new connections avoid it, its keep-alive connection goes on"
lab_sport_for "$conf" web b2 || lab_fail "no source port for b2"
lab_hold_start b2 "$LAB_VIP4" 60 "$LAB_SPORT" || lab_fail "keep-alive connection to b2"
[ "$LAB_HOLD_BACKEND" = b2 ] || lab_fail "keep-alive on $LAB_HOLD_BACKEND, wanted b2"
sl breaker drain web "$B" || lab_fail "breaker drain: exit $?"
want_state "$B" draining draining draining
want_event 1 closed draining
grep -q "breaker of service web backend $B port $LAB_PORT set to draining by uid 0" "$LAB_SLUICED_LOG" ||
	lab_fail "the mode change is not logged"
sl breaker show web "$B:$LAB_PORT" | grep -q "^web  *$B:$LAB_PORT  *draining  *draining  *draining " ||
	lab_fail "breaker show text: $(sl breaker show web "$B:$LAB_PORT")"
burst_avoiding b2 60 || lab_fail "new connections while b2 drains"
lab_hold_advance b2 10 || lab_fail "keep-alive to the draining b2 stalled"
lab_hold_stop b2 b2 || lab_fail "keep-alive to the draining b2 broke or moved"

echo "a reload does not undo a mode"
sl reload || lab_fail "reload: exit $?"
want_state "$B" draining draining draining

echo "open b2: forced_open, gate open; new connections avoid it"
sl breaker open web "$B:$LAB_PORT" || lab_fail "breaker open: exit $?"
want_state "$B" forced_open forced_open open
want_event 2 draining forced_open
burst_avoiding b2 60 || lab_fail "new connections while b2 is forced open"

echo "auto: closed again, b2 gets new connections as Maglev predicts"
sl breaker auto web "$B" port "$LAB_PORT" || lab_fail "breaker auto: exit $?"
want_state "$B" closed auto closed
want_event 3 forced_open closed
[ "$(brk "$B" .trips)" = 0 ] || lab_fail "trips after a release: $(brk "$B" .trips), want 0"
lab_check_burst "$conf" web "$LAB_VIP4" 60 || lab_fail "connections after breaker auto"
case " $LAB_SPREAD " in *" b2 "*) ;; *) lab_fail "b2 got no connection after auto: $LAB_SPREAD" ;; esac

echo "metrics-only: reported, the data path keeps admitting"
sl breaker metrics-only web "$B" || lab_fail "breaker metrics-only: exit $?"
want_state "$B" metrics_only metrics_only closed
want_event 4 closed metrics_only
sl breaker auto web "$B" || lab_fail "breaker auto: exit $?"
want_state "$B" closed auto closed

echo "refusals: exit 2 with the daemon's message, usage errors exit 1, nothing changes"
err=$(sl breaker drain web 198.19.0.99 2>&1); rc=$?
[ $rc = 2 ] && grep -q "has no backend 198.19.0.99" <<<"$err" || lab_fail "unknown backend: exit $rc, '$err'"
err=$(sl breaker drain nosuch "$B" 2>&1); rc=$?
[ $rc = 2 ] && grep -q "no service named nosuch" <<<"$err" || lab_fail "unknown service: exit $rc, '$err'"
err=$(sl breaker show web 198.19.0.99 2>&1); rc=$?
[ $rc = 2 ] && grep -q "has no backend 198.19.0.99" <<<"$err" || lab_fail "show unknown backend: exit $rc, '$err'"
err=$(sl breaker drain web 2>&1); rc=$?
[ $rc = 1 ] && grep -q "give SERVICE ADDR" <<<"$err" || lab_fail "drain without a backend: exit $rc, '$err'"
err=$(sl breaker sideways web "$B" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "unknown command 'sideways'" <<<"$err" || lab_fail "unknown command: exit $rc, '$err'"
err=$(sl breaker drain web "$B:99999" 2>&1); rc=$?
[ $rc = 1 ] || lab_fail "a bad port: exit $rc, '$err'"
err=$(sl_nobody breaker drain web "$B" 2>&1); rc=$?
[ $rc = 2 ] && grep -q "Operation not permitted" <<<"$err" || lab_fail "drain as nobody: exit $rc, '$err'"
grep -q "refused BREAKER_SET from uid 65534 pid [0-9]" "$LAB_SLUICED_LOG" || lab_fail "refusal not logged"
sl_nobody -j breaker show web >/dev/null || lab_fail "breaker show as nobody: exit $?"
want_state "$B" closed auto closed
(($(bevents | wc -l) == 5)) || lab_fail "events after refusals: $(bevents)"

kill "$MON_PID"; lab_wait_pid "$MON_PID" 50
echo "PASS: sluice breaker drain/open/auto/metrics-only, show (text and JSON), monitor events, refusals"
