#!/usr/bin/env bash
# Balancing, both families: 300 new TCP connections to each VIP from fixed
# source ports; every one must succeed and land on the backend Maglev
# predicts (slpredict, from the same config), every backend must get a
# share, and each backend's new_flows counter must grow by exactly the
# connections it got.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

N=300
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
for dev in gw-c gw-b1 gw-b2 gw-b3; do
	lab_xdp_attached "$dev" || lab_fail "no XDP program on $dev after 'sluiced: ready'"
done

for fam in v4 v6; do
	if [ $fam = v4 ]; then svc=web vip=$LAB_VIP4; else svc=web6 vip=$LAB_VIP6; fi
	echo "$fam: $N connections to $vip:$LAB_PORT"
	lab_check_burst "$conf" "$svc" "$vip" "$N" --check-stats || lab_fail "$fam balancing"
	# The ports are fixed, so the spread is too: a backend with less than a
	# sixth is a broken table, not bad luck.
	for b in b1 b2 b3; do
		got=$(awk -v b=$b '{ for (i = 1; i < NF; i += 2) if ($i == b) print $(i + 1) }' <<<"$LAB_SPREAD")
		((${got:-0} >= N / 6)) || lab_fail "$fam: $b got ${got:-0} of $N connections"
	done
done

echo "sluice counters:"
"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | sed 's/^/  /'
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: balancing matches Maglev's predictions for $N IPv4 and $N IPv6 connections"
