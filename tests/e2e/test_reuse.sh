#!/usr/bin/env bash
# A new connection is a new flow even when its 5-tuple is that of an
# earlier, closed connection (a client reusing a source port, as busy
# clients and NATs in front of the gateway do): its SYN must be balanced by
# the config in force, counted in new_flows, and never sent to a backend
# that has left the config. Both families.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

N=60
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

echo "fresh source ports"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats || lab_fail "IPv4, fresh ports"
p4=$LAB_BURST_BASE
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats || lab_fail "IPv6, fresh ports"
p6=$LAB_BURST_BASE

echo "the same source ports again, same config (their connections are closed)"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats --sport-base "$p4" ||
	lab_fail "IPv4, reused ports: not counted as new flows or not as predicted"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats --sport-base "$p6" ||
	lab_fail "IPv6, reused ports: not counted as new flows or not as predicted"

echo "removing b1 and reloading; the same source ports again"
lab_write_config "$conf" both 2 3 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload without b1"
lab_check_burst "$conf" web "$LAB_VIP4" $N --check-stats --exclude b1 --sport-base "$p4" ||
	lab_fail "IPv4, reused ports after removing b1"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --check-stats --exclude b1 --sport-base "$p6" ||
	lab_fail "IPv6, reused ports after removing b1"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: connections reusing a closed flow's 5-tuple were balanced as new flows"
