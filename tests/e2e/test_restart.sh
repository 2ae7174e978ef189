#!/usr/bin/env bash
# Daemon restart under traffic: with a keep-alive connection per family
# running, sluiced is stopped (SIGTERM). The program must stay attached,
# the maps pinned, new connections must keep succeeding where Maglev says,
# and the keep-alive connections must not notice. A new sluiced adopts the
# pins (the counters carry on). Finally "sluiced --detach" removes the
# program from every interface and the pins.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

DEVS="gw-c gw-b1 gw-b2 gw-b3"
N=100
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
for dev in $DEVS; do
	lab_xdp_attached "$dev" || lab_fail "no XDP program on $dev after 'sluiced: ready'"
done

lab_hold_start v4 "$LAB_VIP4" 120 || lab_fail "IPv4 keep-alive connection"
h4=$LAB_HOLD_BACKEND
lab_hold_start v6 "$LAB_VIP6" 120 || lab_fail "IPv6 keep-alive connection"
h6=$LAB_HOLD_BACKEND
echo "keep-alive connections: IPv4 on $h4, IPv6 on $h6"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats || lab_fail "IPv4 with sluiced running"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats || lab_fail "IPv6 with sluiced running"

echo "stopping sluiced (SIGTERM)"
lab_stop_sluiced
rc=$?
[ $rc = 0 ] || lab_fail "sluiced exited with status $rc on SIGTERM"
for dev in $DEVS; do
	lab_xdp_attached "$dev" || lab_fail "XDP program gone from $dev after sluiced stopped"
done
for m in sl_conn sl_backend sl_bk_stats; do
	[ -e "$LAB_PIN_ROOT/$m" ] || lab_fail "$LAB_PIN_ROOT/$m not pinned after sluiced stopped"
done
echo "without sluiced:"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats || lab_fail "IPv4 without sluiced"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats || lab_fail "IPv6 without sluiced"
lab_hold_advance v4 20 || lab_fail "IPv4 keep-alive stalled without sluiced"
lab_hold_advance v6 20 || lab_fail "IPv6 keep-alive stalled without sluiced"

echo "starting sluiced again"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start over its pins"
lab_hold_advance v4 20 || lab_fail "IPv4 keep-alive stalled after the restart"
lab_hold_advance v6 20 || lab_fail "IPv6 keep-alive stalled after the restart"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats || lab_fail "IPv4 after the restart"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats || lab_fail "IPv6 after the restart"
lab_hold_stop v4 "$h4" || lab_fail "IPv4 keep-alive connection broke or moved"
lab_hold_stop v6 "$h6" || lab_fail "IPv6 keep-alive connection broke or moved"

echo "stopping sluiced and detaching"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
lab_detach "$conf" || lab_fail "sluiced --detach failed"
for dev in $DEVS; do
	lab_xdp_attached "$dev" && lab_fail "XDP program still on $dev after --detach"
done
[ -e "$LAB_PIN_ROOT" ] && lab_fail "$LAB_PIN_ROOT still there after --detach: $(find "$LAB_PIN_ROOT" -mindepth 1 -printf "%f ")"
echo "PASS: traffic and established flows survived a daemon restart; --detach cleaned up"
