#!/usr/bin/env bash
# Events and runtime changes: `sluice monitor` as root (multicast group)
# and as an unprivileged user (SUBSCRIBE, unicast) sees a reload and a
# backend change as the expected events; a backend added with `sluice
# backend add` receives new connections (as Maglev predicts for the config
# with it); one removed with `sluice backend del` receives none while its
# established keep-alive connection finishes on it; a runtime change that
# breaks a file rule (a backend at another service's VIP, a duplicate) is
# refused with exit 2 and changes nothing; service add/del.
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
nbk() { sl -j backend list web | jq length; }

# monitor NAME [setpriv args...]: `sluice -j monitor` in the gateway in the
# background (as root, or through setpriv), output in $LAB_DIR/mon.NAME;
# returns once it listens.
monitor() {
	local name=$1; shift
	lab_bg "$LAB_DIR/mon.$name" gw "$@" "$SLUICE" -R "$LAB_RUN_DIR" -j monitor
	printf -v "MON_$name" %s "$LAB_LAST_PID"
	lab_wait_lines "$LAB_DIR/mon.$name" '^sluice: monitoring events' 1 100 ||
		lab_fail "monitor $name did not start: $(cat "$LAB_DIR/mon.$name")"
}
# events NAME: the JSON lines seen so far
events() { grep '^{' "$LAB_DIR/mon.$1"; }
# wait_events NAME N: at least N events (bounded: 10 s)
wait_events() { lab_wait_lines "$LAB_DIR/mon.$1" '^{' "$2" 100; }

lab_up || lab_fail "lab_up"
chmod 0755 "$LAB_DIR"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

echo "monitors: root joins the group, nobody subscribes"
monitor root
grep -q '(group)' "$LAB_DIR/mon.root" || lab_fail "root monitor did not join the group"
monitor nobody setpriv --reuid=65534 --regid=65534 --clear-groups
grep -q '(subscription)' "$LAB_DIR/mon.nobody" || lab_fail "unprivileged monitor did not subscribe"
grep -q 'subscribed to events' "$LAB_SLUICED_LOG" || lab_fail "subscription not logged"

echo "a reload: one config_applied event, cause reload"
sl reload || lab_fail "reload: exit $?"
for m in root nobody; do
	wait_events $m 1 || lab_fail "$m: no event after reload"
	events $m | jq -se 'length == 1 and .[0].event == "config_applied" and .[0].cause == "reload" and
		.[0].uid == 0 and .[0].time_ns > 0 and .[0].nr_services == 2' >/dev/null ||
		lab_fail "$m: events after reload: $(events $m)"
done

echo "backend add: b3 gets new connections"
sl backend add web "${LAB_BK4[3]}" port "$LAB_PORT" || lab_fail "backend add: exit $?"
[ "$(nbk)" = 3 ] || lab_fail "backend add: $(nbk) backends"
for m in root nobody; do
	wait_events $m 3 || lab_fail "$m: no events after backend add"
	events $m | tail -n 2 | jq -se --arg a "${LAB_BK4[3]}" '
		.[0].event == "backend_added" and .[0].service == "web" and .[0].addr == $a and
		.[0].port == 80 and .[0].cause == "runtime" and
		.[1].event == "config_applied" and .[1].cause == "runtime"' >/dev/null ||
		lab_fail "$m: events after backend add: $(events $m | tail -n 2)"
done
# web as it runs now: b1 b2 and b3 appended (slpredict reads web only)
lab_write_config "$LAB_DIR/123.conf" both 1 2 3 || lab_fail "lab_write_config"
lab_check_burst "$LAB_DIR/123.conf" web "$LAB_VIP4" 60 || lab_fail "connections after backend add"
case " $LAB_SPREAD " in *" b3 "*) ;; *) lab_fail "b3 got no connection: $LAB_SPREAD" ;; esac

echo "refused runtime changes change nothing"
err=$(sl backend add web "$LAB_VIP4" port 81 2>&1); rc=$?
[ $rc = 2 ] && grep -q "is the vip of service" <<<"$err" || lab_fail "backend at a VIP: exit $rc, '$err'"
err=$(sl backend add web6 "${LAB_BK4[1]}" port 80 2>&1); rc=$?
[ $rc = 2 ] && grep -q "is IPv4 but" <<<"$err" || lab_fail "v4 backend in a v6 service: exit $rc, '$err'"
err=$(sl backend add web "${LAB_BK4[1]}" port 80 2>&1); rc=$?
[ $rc = 2 ] && grep -q "already" <<<"$err" || lab_fail "duplicate backend: exit $rc, '$err'"
err=$(lab_gw_exec setpriv --reuid=65534 --regid=65534 --clear-groups "$SLUICE" -R "$LAB_RUN_DIR" \
	backend del web "${LAB_BK4[1]}" 2>&1); rc=$?
[ $rc = 2 ] || lab_fail "backend del as nobody: exit $rc, '$err'"
[ "$(nbk)" = 3 ] || lab_fail "a refused change changed the backends: $(nbk)"

echo "backend del: b2 gets no new connections, its keep-alive connection finishes"
lab_sport_for "$LAB_DIR/123.conf" web b2 || lab_fail "no source port for b2"
lab_hold_start b2 "$LAB_VIP4" 60 "$LAB_SPORT" || lab_fail "keep-alive connection to b2"
[ "$LAB_HOLD_BACKEND" = b2 ] || lab_fail "keep-alive on $LAB_HOLD_BACKEND, wanted b2"
n0=$(events root | wc -l)
sl backend del web "${LAB_BK4[2]}" || lab_fail "backend del: exit $?"
[ "$(nbk)" = 2 ] || lab_fail "backend del: $(nbk) backends"
wait_events root $((n0 + 2)) || lab_fail "no events after backend del"
events root | tail -n 2 | jq -se --arg a "${LAB_BK4[2]}" '
	.[0].event == "backend_removed" and .[0].addr == $a and .[1].event == "config_applied"' >/dev/null ||
	lab_fail "events after backend del: $(events root | tail -n 2)"
sl -j backend list web | jq -e --arg a "${LAB_BK4[2]}" 'all(.[]; .addr != $a)' >/dev/null ||
	lab_fail "b2 still listed"
lab_write_config "$LAB_DIR/13.conf" both 1 3 || lab_fail "lab_write_config"
lab_check_burst "$LAB_DIR/13.conf" web "$LAB_VIP4" 60 --exclude b2 || lab_fail "connections after backend del"
lab_hold_advance b2 10 || lab_fail "keep-alive to the removed b2 stalled"
lab_hold_stop b2 b2 || lab_fail "keep-alive to the removed b2 broke or moved"

echo "service add and del"
sl service add api vip 198.18.1.101 port 8080 || lab_fail "service add: exit $?"
sl backend add api "${LAB_BK4[1]}" port 8080 weight 2 || lab_fail "backend add to api: exit $?"
sl -j service show api | jq -e '.port == 8080 and .nr_backends == 1 and .proto == "tcp"' >/dev/null ||
	lab_fail "service api: $(sl -j service show api)"
err=$(sl service add api vip 198.18.1.102 port 80 2>&1); rc=$?
[ $rc = 2 ] && grep -q "exists already" <<<"$err" || lab_fail "service add twice: exit $rc, '$err'"
err=$(sl service add bad vip 198.18.1.103 port 80 mode dsr 2>&1); rc=$?
[ $rc = 2 ] && grep -q "not supported yet" <<<"$err" || lab_fail "mode dsr: exit $rc, '$err'"
sl service del api || lab_fail "service del: exit $?"
sl -j service list | jq -e 'map(.service) | sort == ["web", "web6"]' >/dev/null || lab_fail "service del"
wait_events nobody 9 || lab_fail "nobody: events missing: $(events nobody)"
events nobody | jq -se '[.[].event] | index("service_added") != null and index("service_removed") != null' \
	>/dev/null || lab_fail "service events: $(events nobody)"

echo "sluice reload returns to the file"
sl reload || lab_fail "reload: exit $?"
sl -j backend list web | jq -e --arg a "${LAB_BK4[2]}" 'length == 2 and any(.[]; .addr == $a)' >/dev/null ||
	lab_fail "reload did not return to the file's backends"

echo "a monitor that went away is dropped"
kill "$MON_nobody"; lab_wait_pid "$MON_nobody" 50
sl reload || lab_fail "reload: exit $?"
lab_wait_lines "$LAB_SLUICED_LOG" 'subscriber port [0-9]* is gone: dropped' 1 50 ||
	lab_fail "the gone subscriber was not dropped"
kill "$MON_root"; lab_wait_pid "$MON_root" 50
echo "PASS: sluice monitor (group and subscription), runtime service/backend add/del, refusals, drain"
