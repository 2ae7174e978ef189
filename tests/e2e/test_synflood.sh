#!/usr/bin/env bash
# SYN flood: the client floods the IPv4 VIP with raw SYNs from spoofed
# sources in 198.18.128.0/17 (build/tests/e2e/slsyn, seeded, bounded:
# 20,000 SYNs; SL_SOAK=1: 300,000 as fast as it goes) while a keep-alive
# connection started before runs. Every backend has max_pending = 64. The
# backends' SYN-ACKs to the spoofed sources go back through the gateway to
# the client side (a route in the gateway), where the client's kernel,
# not a router, drops them. Backend 1 is slow to answer SYNs (300 ms), so
# its pending flows reach the limit.
# Asserts: sampled during the flood, no backend's pending count is ever
# above 64; the sluice CLI answers throughout; the keep-alive connection
# never fails and stays on its backend; after the flood a burst of new
# real connections all succeed, each on its predicted backend.
# Prints one "synflood:" summary line (bench/abuse.sh reads it).
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
[ -x "$LAB_TOOLS/slsyn" ] || lab_skip "$LAB_TOOLS/slsyn not built (make all)"
trap lab_down EXIT
lab_trap_signals

MAXP=64
SEED=${SL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
if [ -n "${SL_SOAK:-}" ] && [ "$SL_SOAK" != 0 ]; then
	COUNT=300000 PPS=0
else
	COUNT=20000 PPS=${SL_SYN_PPS:-8000}
fi
echo "synflood: seed $SEED (SL_SEED=$SEED reproduces the sources), $COUNT SYNs"

sl() { timeout 10 nsenter --net="/run/netns/$LAB_PREFIX-gw" -- "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_BK_EXTRA=(- "max_pending = $MAXP;" "max_pending = $MAXP;" "max_pending = $MAXP;")
# connect timeout well above the slow backend's delay: the flood's flows wait
# for it instead of being redispatched (and tripping its breaker)
LAB_SVC_EXTRA='connect_timeout_ms = 5000;'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
# the SYN-ACKs to the spoofed sources: back to the client side
lab_gw_exec ip route add 198.18.128.0/17 via "$LAB_CLIENT4" || lab_fail "route for the spoofed sources"

lab_hold_start v4 "$LAB_VIP4" 120 || lab_fail "keep-alive connection"
hold_bk=$LAB_HOLD_BACKEND
echo "  keep-alive connection on $hold_bk"

# Backend 1 answers SYNs 300 ms late (its SYN-ACKs held in its namespace):
# its pending flows pile up against max_pending.
lab_slow 1 300 || lab_fail "could not slow backend 1"

lab_bg "$LAB_DIR/syn.out" c "$LAB_TOOLS/slsyn" "$LAB_VIP4" "$LAB_PORT" --count "$COUNT" \
	--pps "$PPS" --seed "$SEED" --src-net 198.18.128.0/17
syn_pid=$LAB_LAST_PID

# Sample while the flood runs (bounded: 120 s).
max_seen=0 samples=0 cli_fail=0 over=
for ((k = 0; k < 1200; k++)); do
	st=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT") || lab_fail "slstat failed during the flood"
	p=$(awk '$1 == "backend" { for (i = 4; i < NF; i++) if ($i == "pending") print $(i + 1) }' <<<"$st" |
		sort -n | tail -n 1)
	samples=$((samples + 1))
	((p > max_seen)) && max_seen=$p
	((p > MAXP)) && over="$over $p"
	if ((k % 5 == 0)); then
		sl -j backend list web >/dev/null 2>&1 || cli_fail=$((cli_fail + 1))
	fi
	kill -0 "$syn_pid" 2>/dev/null || break
	[ "$(awk '{print $3}' "/proc/$syn_pid/stat" 2>/dev/null)" = Z ] && break
	sleep 0.1
done
lab_wait_pid "$syn_pid" 600
rc=$?
sed 's/^/  /' "$LAB_DIR/syn.out"
[ "$rc" = 0 ] || lab_fail "slsyn exited $rc"
sent=$(awk '/^slsyn: sent/ { print $3 }' "$LAB_DIR/syn.out")
[ "$sent" = "$COUNT" ] || lab_fail "slsyn sent ${sent:-nothing}, not $COUNT"

sleep 1                 # the held SYN-ACKs go out before the delay ends
lab_slow 1 off
st=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT")
grep -E '^backend' <<<"$st" | sed 's/^/  /'
pfull=$(awk '$1 == "reason" && $2 == "pending_full" { print $3 }' <<<"$st")
nflows=$(awk '$1 == "backend" { n += $9 } END { print n + 0 }' <<<"$st")
echo "  $samples samples: the most pending seen on a backend $max_seen (max_pending $MAXP);" \
	"pending_full ${pfull:-0}; new_flows $nflows; CLI failures $cli_fail"
[ -z "$over" ] || lab_fail "pending above max_pending $MAXP:$over"
[ "$cli_fail" = 0 ] || lab_fail "the sluice CLI failed $cli_fail times during the flood"
sl -j backend list web >/dev/null || lab_fail "the sluice CLI does not answer after the flood"

# The keep-alive connection kept working, and new real connections succeed.
lab_hold_advance v4 10 || lab_fail "the keep-alive connection stalled after the flood"
lab_check_burst "$conf" web "$LAB_VIP4" 20 || lab_fail "new connections after the flood"
hold_reqs=$(lab_hold_requests v4)
lab_hold_stop v4 "$hold_bk" || lab_fail "the keep-alive connection broke or moved during the flood"
echo "synflood: syns $sent max_pending_seen $max_seen max_pending $MAXP pending_full ${pfull:-0}" \
	"hold_requests $hold_reqs hold_failed 0 cli_failed $cli_fail new_conns_failed 0 seed $SEED"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: $sent spoofed SYNs: pending never above $MAXP, CLI answered, keep-alive unbroken, new connections fine"
