#!/usr/bin/env bash
# Interfaces followed through the link table: a backend's veth pair is
# deleted while sluiced runs (logged, dropped from the devmap) and created
# again with the same names, addresses and routes but a new ifindex; the
# program must be attached to the new gw-bI (ip -d link show), the log must
# say so, and connections to that backend must work again.
#
# Both families: on the new link the gateway must resolve the backend's
# IPv6 neighbour through the XDP program (a backend's neighbour discovery is
# the kernel's, never sluice's).
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

I=1                             # the backend whose link goes away
N=60

# The backend link as lab_up builds it, with lab_up's sysctls and offloads.
make_backend_link() {
	local i=$1
	lab_backend_link "$i" || return 1
	_lab_sysctl gw "net.ipv4.conf.gw-b$i.rp_filter=0" || return 1
	_lab_sysctl "b$i" net.ipv4.conf.eth0.rp_filter=0 || return 1
	_lab_do lab_exec gw ethtool -K "gw-b$i" gro on || return 1
	_lab_do lab_exec "b$i" ethtool -K eth0 gro on || return 1
	_lab_do lab_exec "b$i" ethtool -K eth0 tx off || return 1
}

ifindex() { lab_gw_exec ip -o link show dev "$1" | cut -d: -f1; }

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
lab_xdp_attached "gw-b$I" || lab_fail "no XDP program on gw-b$I"
lab_check_burst "$conf" web "$LAB_VIP4" $N || lab_fail "IPv4 before"
old=$(ifindex "gw-b$I")

echo "deleting gw-b$I (ifindex $old)"
_lab_do ip -n "$LAB_PREFIX-gw" link del "gw-b$I" || lab_fail "link del"
lab_wait_lines "$LAB_SLUICED_LOG" "interface gw-b$I (ifindex $old) disappeared" 1 100 ||
	lab_fail "sluiced did not log gw-b$I disappearing"

echo "creating gw-b$I again"
make_backend_link $I || lab_fail "re-creating the link of b$I"
new=$(ifindex "gw-b$I")
[ "$new" != "$old" ] || lab_fail "gw-b$I came back with the same ifindex $old"
lab_wait_lines "$LAB_SLUICED_LOG" "interface gw-b$I appeared (ifindex $new): program attached" 1 100 ||
	lab_fail "sluiced did not log attaching to the new gw-b$I"
grep "interface gw-b$I" "$LAB_SLUICED_LOG" | sed 's/^/  log: /'
lab_xdp_attached "gw-b$I" || lab_fail "no XDP program on the new gw-b$I"
lab_gw_exec ip -d link show dev "gw-b$I" | grep -o 'prog/xdp id [0-9]*' | sed 's/^/  gw-b1: /'

lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats || lab_fail "IPv4 after the link came back"
grep -q "b$I" <<<"$LAB_SPREAD" || lab_fail "no IPv4 connection reached b$I"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats || lab_fail "IPv6 after the link came back"
grep -q "b$I" <<<"$LAB_SPREAD" || lab_fail "no IPv6 connection reached b$I"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: gw-b$I deleted and re-created (ifindex $old -> $new): program back, b$I reachable"
