#!/usr/bin/env bash
# Reload as a transaction: a config file with an error, loaded by SIGHUP,
# changes nothing. Every map derived from the config (sl_svc, sl_backend,
# sl_rev, sl_addrs, sl_addr_filter, sl_tx, sl_maglev and its inner tables)
# is dumped before and after and must be byte-identical; the log names the
# file and the line of the error. The broken file also carries valid
# changes (a backend removed, another reweighted), so applying any part of
# it would show. Then a good file is reloaded and the maps do change.
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

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
lab_check_burst "$conf" web "$LAB_VIP4" 30 || lab_fail "IPv4 before the reload"
sl_dump_config_maps "$LAB_PIN_ROOT" "$LAB_DIR/before" || lab_fail "dumping the maps"
cp "$conf" "$LAB_DIR/running.conf"

# The broken file: backends 1 and 2 only, backend 2 at weight 3, and the
# last backend's port out of range.
lab_write_config "$LAB_DIR/next.conf" both 1 2 || lab_fail "lab_write_config"
sed -i 's/\(198\.19\.0\.12"; port = 80; weight = \)1/\13/' "$LAB_DIR/next.conf"
line=$(grep -n '2001:2:0:2::12"; port = 80' "$LAB_DIR/next.conf" | cut -d: -f1)
[ -n "$line" ] || lab_fail "cannot find the line to break"
sed -i "${line}s/port = 80;/port = 70000;/" "$LAB_DIR/next.conf"
cp "$LAB_DIR/next.conf" "$conf"
echo "config broken at $conf:$line: $(sed -n "${line}p" "$conf")"

before=$(grep -c 'reload refused' "$LAB_SLUICED_LOG")
kill -HUP "$LAB_SLUICED_PID" || lab_fail "SIGHUP"
lab_wait_lines "$LAB_SLUICED_LOG" 'reload refused' $((before + 1)) 100 ||
	lab_fail "no 'reload refused' line after SIGHUP with a broken file"
grep 'reload refused' "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  log: /'
grep 'reload refused' "$LAB_SLUICED_LOG" | tail -n 1 | grep -qF "$conf:$line:" ||
	lab_fail "the error does not name $conf:$line"
_lab_alive "$LAB_SLUICED_PID" "$LAB_SLUICED_ST" || lab_fail "sluiced died on a broken file"

sl_dump_config_maps "$LAB_PIN_ROOT" "$LAB_DIR/after" || lab_fail "dumping the maps"
if ! cmp -s "$LAB_DIR/before" "$LAB_DIR/after"; then
	diff "$LAB_DIR/before" "$LAB_DIR/after" | head -n 20
	lab_fail "a broken config changed the maps"
fi
echo "maps byte-identical after the refused reload ($(wc -l <"$LAB_DIR/after") dump lines)"
lab_check_burst "$LAB_DIR/running.conf" web "$LAB_VIP4" 30 || lab_fail "IPv4 after the refused reload"

# The same changes without the error: applied, and the maps move.
sed -i "${line}s/port = 70000;/port = 80;/" "$conf"
lab_reload_sluiced || lab_fail "the good reload was not applied"
sl_dump_config_maps "$LAB_PIN_ROOT" "$LAB_DIR/good" || lab_fail "dumping the maps"
cmp -s "$LAB_DIR/before" "$LAB_DIR/good" && lab_fail "a good reload changed nothing in the maps"
lab_check_burst "$conf" web "$LAB_VIP4" 30 --exclude b3 || lab_fail "IPv4 after the good reload"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: a broken config changed no map and named $conf:$line; the fixed one applied"
