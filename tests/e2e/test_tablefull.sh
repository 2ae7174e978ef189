#!/usr/bin/env bash
# Connection table full. conn_table_size = 1024 (an LRU hash); two
# keep-alive connections (IPv4 and IPv6) start first, then the client opens
# 1,500 idle connections (3,000 with SL_SOAK=1): more than the table holds.
#
# What happens, and what is asserted (the deterministic part):
#  - sluice admits every new flow: the LRU evicts the least recently used
#    entries to make room (every idle connection is established; no
#    refusal or drop reason moves; new_flows grows by about one per
#    connection, a little more when an evicted flow's next packet is
#    re-hashed and counted as a new flow);
#  - the table then holds at most its size;
#  - the keep-alive connections started before keep their backends and
#    never fail: either their entries survive (used every 50 ms) or a
#    mid-flow packet whose entry was evicted is re-hashed onto the same
#    Maglev choice (nothing changed in the config);
#  - new connections made while the table is full all succeed, each on its
#    predicted backend;
#  - once the idle connections are closed, the reaper brings every live
#    counter back to what the table holds (test_reconcile covers the exact
#    counts; here only that nothing stays pending).
# Prints one "tablefull:" summary line (bench/abuse.sh reads it).
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

TABLE=1024
N=1500
if [ -n "${SL_SOAK:-}" ] && [ "$SL_SOAK" != 0 ]; then N=3000; fi

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_CONN_TABLE=$TABLE
LAB_TOP_EXTRA='reconcile_ms = 200; closing_timeout_s = 1;'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

reasons() { "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "reason" && $3 > 0 { printf "%s=%s ", $2, $3 }'; }
drops() {
	"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "reason" && $2 ~ /^(no_backend|bulkhead_backend|bulkhead_service|pending_full|breaker_open|no_flow|fib_failed|trip_reset)$/ { n += $3 } END { print n + 0 }'
}
entries() { "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" --table | awk '$1 == "table" && $2 == "backend" { n += $9 } END { print n + 0 }'; }
new_flows() { "$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "backend" { n += $9 } END { print n + 0 }'; }

lab_hold_start v4 "$LAB_VIP4" 180 || lab_fail "IPv4 keep-alive connection"
hold4=$LAB_HOLD_BACKEND
lab_hold_start v6 "$LAB_VIP6" 180 || lab_fail "IPv6 keep-alive connection"
hold6=$LAB_HOLD_BACKEND
echo "  keep-alive connections on $hold4 (v4) and $hold6 (v6)"
drops0=$(drops)
nf0=$(new_flows)

lab_bg "$LAB_DIR/open.out" c "$LAB_TOOLS/slconn" open "$LAB_VIP4" "$LAB_PORT" --count "$N" \
	--stop-file "$LAB_DIR/open.stop" --seconds 150
opener=$LAB_LAST_PID
lab_wait_lines "$LAB_DIR/open.out" '^open:' 1 900 || lab_fail "the client did not open its connections"
sed 's/^/  /' "$LAB_DIR/open.out"
grep -q "^open: established $N failed 0" "$LAB_DIR/open.out" ||
	lab_fail "not every new connection was admitted with the table full"
held=$(entries)
echo "  the table holds $held entries (size $TABLE) for $N idle + 2 keep-alive connections"
((held <= TABLE)) || lab_fail "the table holds $held entries, more than its $TABLE"
((held < N)) || lab_fail "no eviction happened"

lab_hold_advance v4 10 || lab_fail "IPv4 keep-alive stalled with the table full"
lab_hold_advance v6 10 || lab_fail "IPv6 keep-alive stalled with the table full"

# New connections while the table is full.
lab_check_burst "$conf" web "$LAB_VIP4" 100 || lab_fail "new connections with the table full"
lab_check_burst "$conf" web6 "$LAB_VIP6" 50 || lab_fail "new IPv6 connections with the table full"
nf1=$(new_flows)
drops1=$(drops)
echo "  reasons: $(reasons)"
echo "  new_flows grew by $((nf1 - nf0)) for $((N + 150)) connections (mid-flow re-hashes of evicted entries count too)"
[ "$drops1" = "$drops0" ] || lab_fail "refusal/drop reasons moved by $((drops1 - drops0)) with the table full"

lab_hold_advance v4 10 || lab_fail "IPv4 keep-alive stalled"
lab_hold_advance v6 10 || lab_fail "IPv6 keep-alive stalled"
touch "$LAB_DIR/open.stop"
lab_wait_pid "$opener" 600 || lab_fail "slconn open did not close its connections cleanly"

# every pending unit given back once the connections are closed
ok=
for ((k = 0; k < 50; k++)); do
	p=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "backend" { for (i = 4; i < NF; i++) if ($i == "pending") n += $(i + 1) } END { print n + 0 }')
	[ "$p" = 0 ] && { ok=1; break; }
	sleep 0.2
done
[ -n "$ok" ] || lab_fail "pending counts stay at $p after every connection closed"
r4=$(lab_hold_requests v4) r6=$(lab_hold_requests v6)
lab_hold_stop v4 "$hold4" || lab_fail "the IPv4 keep-alive connection broke or moved"
lab_hold_stop v6 "$hold6" || lab_fail "the IPv6 keep-alive connection broke or moved"
echo "tablefull: table $TABLE idle_conns $N admitted $N held_entries $held new_conns 150 new_conns_failed 0" \
	"hold_requests $((r4 + r6)) hold_failed 0 new_flows $((nf1 - nf0))"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: table of $TABLE full with $N idle connections: all admitted (LRU eviction), keep-alive ones unbroken, new connections fine"
