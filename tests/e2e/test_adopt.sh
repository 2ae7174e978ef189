#!/usr/bin/env bash
# Adoption without rebuild: a sluiced started over pins whose config hash
# is its config's writes nothing derived from the config (every such map,
# Maglev inner table ids included, byte-identical before and after), puts
# its own program instance on every interface, and says "adopted pinned
# state, config unchanged". With a changed config it applies the
# difference. Pins of another layout version are refused with a clear
# message.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
# shellcheck source=maps_dump.sh
. "$(dirname "$0")/maps_dump.sh"
lab_require
lab_require_sluiced
command -v bpftool >/dev/null || lab_skip "bpftool not installed"
command -v python3 >/dev/null || lab_skip "python3 not installed"
trap lab_down EXIT
lab_trap_signals

DEVS="gw-c gw-b1 gw-b2 gw-b3"
prog_ids() {
	local dev
	for dev in $DEVS; do
		lab_gw_exec ip -d link show dev "$dev" | grep -o 'prog/xdp id [0-9]*' | awk '{ printf "%s ", $3 }'
	done
}

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
lab_check_burst "$conf" web "$LAB_VIP4" 30 || lab_fail "IPv4 first start"
ids1=$(prog_ids)
sl_dump_config_maps "$LAB_PIN_ROOT" "$LAB_DIR/d1" || lab_fail "dumping the maps"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly"

echo "restart, same config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start over its pins"
grep -q 'adopted pinned state, config unchanged' "$LAB_SLUICED_LOG" || lab_fail "no 'adopted pinned state, config unchanged'"
sl_dump_config_maps "$LAB_PIN_ROOT" "$LAB_DIR/d2" || lab_fail "dumping the maps"
if ! cmp -s "$LAB_DIR/d1" "$LAB_DIR/d2"; then
	diff "$LAB_DIR/d1" "$LAB_DIR/d2" | head -n 20
	lab_fail "adoption with an unchanged config rewrote maps"
fi
ids2=$(prog_ids)
echo "  program ids: before $ids1, after $ids2"
[ "$(wc -w <<<"$ids2")" = 4 ] || lab_fail "the program is not on every interface: $ids2"
for id in $ids2; do
	grep -qw "$id" <<<"$ids1" && lab_fail "program $id of the old sluiced still attached"
done
lab_check_burst "$conf" web "$LAB_VIP4" 30 --check-stats || lab_fail "IPv4 after adoption"
lab_check_burst "$conf" web6 "$LAB_VIP6" 30 --check-stats || lab_fail "IPv6 after adoption"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly"

echo "restart, changed config (backend 3 removed)"
lab_write_config "$conf" both 1 2 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start with a changed config"
[ "$(grep -c 'adopted pinned state, config unchanged' "$LAB_SLUICED_LOG")" = 1 ] ||
	lab_fail "a changed config was adopted as unchanged"
grep -q 'applying the difference' "$LAB_SLUICED_LOG" || lab_fail "no 'applying the difference'"
lab_check_burst "$conf" web "$LAB_VIP4" 30 --exclude b3 || lab_fail "IPv4 after the changed start"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly"

echo "pins of another layout version"
# bpftool -j prints the raw bytes in "value" (and the BTF view apart).
val=$(bpftool -j map lookup pinned "$LAB_PIN_ROOT/sl_meta" key 0 0 0 0 | python3 -c '
import json, sys
b = [int(x, 16) for x in json.load(sys.stdin)["value"]]
b[0:4] = [0xe7, 0x03, 0, 0]          # layout version 999
print(" ".join("%02x" % x for x in b))') || lab_fail "cannot read sl_meta"
# shellcheck disable=SC2086
bpftool map update pinned "$LAB_PIN_ROOT/sl_meta" key 0 0 0 0 value hex $val || lab_fail "cannot rewrite sl_meta"
lab_start_sluiced "$conf" && lab_fail "sluiced started over pins of layout version 999"
grep -q 'layout version 999, this sluiced uses' "$LAB_SLUICED_LOG" || lab_fail "no clear layout version message"
grep 'layout version 999' "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  log: /'
echo "PASS: unchanged config adopted without a write, changed one applied, foreign layout refused"
