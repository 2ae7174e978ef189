#!/usr/bin/env bash
# A run of consecutive failures is a run in time, not in the order the
# timeouts are found. b1 drops the SYNs of four flows (an overloaded
# backend's full accept queue, say) while it answers the flows sent after
# them. The four connect timeouts come out of the reaper's scan together,
# ~200 ms later; in time each was followed by handshakes b1 completed, so
# none continues a run and consecutive_failures = 3 does not trip. Every
# client connection succeeds (the four are redispatched). Then b1 drops
# every SYN: the timeouts are a real run, and the breaker trips.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
# no active check: its successes would end runs too
LAB_SVC_EXTRA='connect_timeout_ms = 200; breaker = { consecutive_failures = 3; open_ms = 5000; };'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

N=60
lab_sports "$N" || lab_fail "lab_sports"
base=$LAB_SPORT
mapfile -t b1 < <("$LAB_TOOLS/slpredict" "$conf" web "$LAB_CLIENT4" "$base-$((base + N - 1))" |
	awk -v a="${LAB_BK4[1]}" '$2 == a { print $1 }')
((${#b1[@]} >= 8)) || lab_fail "only ${#b1[@]} of $N ports go to b1"
drop="${b1[0]}, ${b1[1]}, ${b1[2]}, ${b1[3]}"
echo "b1 drops the SYNs from ports $drop and answers ${#b1[@]} - 4 later flows"
lab_exec b1 nft -f - <<EOF || lab_fail "nft"
table inet sl_runs {
	chain in {
		type filter hook input priority -300; policy accept;
		tcp sport { $drop } tcp flags & (syn | ack) == syn drop
	}
}
EOF
# each timeout found by the scan moves its flow: b1's redispatched count
t0=$(lab_bk_field 1 redispatched)
out=$(lab_exec c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds 1 --rate 2000 --count "$N" \
	--concurrency "$N" --timeout-ms 3000 --sport-base "$base" --sport-count "$N") ||
	lab_fail "client connections failed: $out"
echo "  $(printf '%s\n' "$out" | head -n 1)"
for ((k = 0; k < 50; k++)); do
	[ "$(($(lab_bk_field 1 redispatched) - t0))" -ge 4 ] && break
	sleep 0.1
done
t=$(($(lab_bk_field 1 redispatched) - t0))
[ "$t" -eq 4 ] || lab_fail "b1 timed out and moved $t flows, not 4"
sleep 0.3   # past any scan that could still feed them
g=$(lab_gate 1)
[ "$g" = closed ] || lab_fail "b1's breaker is $g after 4 timeouts interleaved with handshakes: $(grep 'breaker web' "$LAB_SLUICED_LOG" | tail -n 2)"
echo "  b1: $t connect timeouts (flows moved), breaker $g"

echo "b1 drops every SYN: the timeouts are a run"
lab_exec b1 nft delete table inet sl_runs
lab_exec b1 nft -f - <<'EOF' || lab_fail "nft"
table inet sl_runs {
	chain in {
		type filter hook input priority -300; policy accept;
		tcp flags & (syn | ack) == syn drop
	}
}
EOF
lab_sports "$N" || lab_fail "lab_sports"
lab_exec c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds 1 --rate 200 --count "$N" \
	--concurrency "$N" --timeout-ms 3000 --sport-base "$LAB_SPORT" --sport-count "$N" >/dev/null ||
	lab_fail "client connections failed while b1 drops every SYN"
lab_wait_gate 1 open 30 || lab_fail "b1's breaker did not open"
grep "breaker web ${LAB_BK4[1]}:$LAB_PORT: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | grep -q 'consecutive_failures 3 >= 3 (connect_timeout)' ||
	lab_fail "unexpected trip: $(grep 'breaker web' "$LAB_SLUICED_LOG" | tail -n 1)"
grep "breaker web ${LAB_BK4[1]}:$LAB_PORT: closed -> open" "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^/  /'
lab_exec b1 nft delete table inet sl_runs
echo "PASS"
