#!/usr/bin/env bash
# kill -9 drill: a steady stream of new connections (slconn rate, bounded)
# and one long-lived keep-alive connection run while sluiced is killed with
# SIGKILL and started again. The program stays attached and the maps pinned
# through the crash; the new sluiced adopts them ("adopted pinned state,
# config unchanged"). Zero failed connections, the keep-alive one unbroken
# and on the same backend.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

DEVS="gw-c gw-b1 gw-b2 gw-b3"
SECS=8
RATE=150
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

lab_hold_start v4 "$LAB_VIP4" 60 || lab_fail "IPv4 keep-alive connection"
hold_bk=$LAB_HOLD_BACKEND
echo "keep-alive connection on $hold_bk"

# Fresh source ports for every connection of the stream: no TIME_WAIT or
# stale flow entry can interfere.
lab_sports $((SECS * RATE + 100)) || lab_fail "source ports"
lab_bg "$LAB_DIR/rate.out" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds "$SECS" \
	--rate "$RATE" --concurrency 32 --sport-base "$LAB_SPORT" --sport-count $((SECS * RATE + 100))
rate_pid=$LAB_LAST_PID
sleep 2

echo "kill -9 sluiced (pid $LAB_SLUICED_PID) mid-stream"
kill -KILL "$LAB_SLUICED_PID" || lab_fail "kill -9"
wait "$LAB_SLUICED_PID" 2>/dev/null
LAB_SLUICED_PID=
for dev in $DEVS; do
	lab_xdp_attached "$dev" || lab_fail "XDP program gone from $dev after kill -9"
done
lab_hold_advance v4 10 || lab_fail "keep-alive stalled with sluiced dead"

echo "starting sluiced again"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start over the pins of a killed one"
grep -q 'adopted pinned state, config unchanged' "$LAB_SLUICED_LOG" ||
	lab_fail "the new sluiced did not adopt the pinned state"

lab_wait_pid "$rate_pid" $(((SECS + 30) * 10))
rc=$?
cat "$LAB_DIR/rate.out" | sed 's/^/  /'
summary=$(grep '^rate: attempted' "$LAB_DIR/rate.out")
[ -n "$summary" ] || lab_fail "no summary from slconn rate (exit $rc)"
read -r _ _ attempted _ ok _ failed <<<"$summary"
((attempted >= SECS * RATE / 2)) || lab_fail "the stream made only $attempted connections"
[ "$failed" = 0 ] && [ "$ok" = "$attempted" ] || lab_fail "$failed of $attempted connections failed"
[ "$rc" = 0 ] || lab_fail "slconn rate exited $rc"
lab_hold_advance v4 10 || lab_fail "keep-alive stalled after the restart"
lab_hold_stop v4 "$hold_bk" || lab_fail "the keep-alive connection broke or moved"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: kill -9 and restart under $attempted new connections: none failed, the keep-alive one unbroken"
