#!/usr/bin/env bash
# Exact counts under eviction pressure. The connection table is made
# deliberately small (1,024 entries) and the client opens 1,500 idle
# connections through it: the LRU evicts entries that still hold a unit of
# their backend's active count, which no packet will ever give back. The
# reaper's reconciliation (every 200 ms here) must bring every backend's
# and the service's live counters to exactly what the table holds; once the
# connections are closed, every counter must be back at zero.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

N=1500
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_CONN_TABLE=1024
LAB_TOP_EXTRA='reconcile_ms = 200; closing_timeout_s = 1;'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

lab_bg "$LAB_DIR/open.out" c "$LAB_TOOLS/slconn" open "$LAB_VIP4" "$LAB_PORT" --count $N \
	--stop-file "$LAB_DIR/open.stop" --seconds 120
opener=$LAB_LAST_PID
lab_wait_lines "$LAB_DIR/open.out" '^open:' 1 600 || lab_fail "the client did not open its connections"
cat "$LAB_DIR/open.out" | sed 's/^/  /'
grep -q "^open: established $N failed 0" "$LAB_DIR/open.out" || lab_fail "not every connection was established"

# compare: every backend's live active/pending with the units the table
# holds, and the service's; prints the mismatches
compare() {
	"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | awk '
		$1 == "backend" { for (i = 4; i < NF; i++) { if ($i == "active") act[$2] = $(i + 1); if ($i == "pending") pend[$2] = $(i + 1) } }
		$1 == "table" && $2 == "backend" { cnt[$3] = $5; tp[$3] = $7 }
		$1 == "table" && $2 == "service" { if ($5 != $7) printf "service %s: live %s, table %s\n", $3, $7, $5 }
		END { for (b in act) {
			if (act[b] != cnt[b] + 0) printf "backend %s: active %s, table %d\n", b, act[b], cnt[b]
			if (pend[b] != tp[b] + 0) printf "backend %s: pending %s, table %d\n", b, pend[b], tp[b] } }'
}
total() { "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | awk '$1 == "table" && $2 == "backend" { n += $5 } END { print n + 0 }'; }

# The table cannot hold them all: some counted entries were evicted.
held=$(total)
echo "  the table holds $held counted entries for $N connections"
((held < N)) || lab_fail "the table held every connection: no eviction happened"
ok=
for ((k = 0; k < 50; k++)); do
	sleep 0.2
	bad=$(compare)
	[ -z "$bad" ] && { ok=1; break; }
done
[ -n "$ok" ] || lab_fail "live counters do not match the table: $bad"
"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | grep -E '^(backend|table)' | sed 's/^/  /'
grep -c 'reconcile: backend' "$LAB_SLUICED_LOG" | sed 's/^/  reconcile corrections logged: /'

echo "closing every connection"
touch "$LAB_DIR/open.stop"
lab_wait_pid "$opener" 100 || lab_fail "the client did not close its connections"
ok=
for ((k = 0; k < 100; k++)); do
	sleep 0.2
	z=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | awk '
		$1 == "backend" { for (i = 4; i < NF; i++) if (($i == "active" || $i == "pending") && $(i + 1) != 0) n++ }
		$1 == "table" && $2 == "service" && $7 != 0 { n++ }
		END { print n + 0 }')
	[ "$z" = 0 ] && { ok=1; break; }
done
[ -n "$ok" ] || lab_fail "counters not back at zero: $("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | grep -E '^(backend|table)')"
echo "PASS"
