#!/usr/bin/env bash
# sluice benchmarks (`make bench` builds first, then runs this).
#
# stdout: one JSON object per line, nothing else; progress goes to stderr.
#   xdp.floor, xdp.non_vip, xdp.established, xdp.new_flow
#                   ns/packet, BPF_PROG_TEST_RUN through bench/harness.bpf.c
#                   (build/bench/xdp_bench; needs root, no lab)
#   xdp.live_pps    packets/s through the lab gateway with live frames,
#                   sluice against a bare redirect on the same veths
#                   (build/bench/livepps inside a tests/e2e/lab.sh lab)
#   ctl.load_cold_ms, ctl.reload_one_ms, ctl.restart_adopt_ms
#                   sluiced on 1,000 services x 10 backends (bench/ctl_bench.sh)
#   drill.crash, drill.blackhole
#                   failure detection under 200 new connections/s (bench/drill.sh)
#   peer.conn_rate, peer.keepalive_rate, peer.drill.crash, peer.drill.blackhole,
#   peer.live_pps   sluice against nftables DNAT and HAProxy on the same lab
#                   (bench/peers.sh; live_pps: livepps --mode both against
#                   --mode kernel, rounds of PEER_LIVE_SECONDS)
#   abuse.random, abuse.synflood, abuse.tablefull, abuse.kill9
#                   the abuse tests' figures (bench/abuse.sh; `make soak`
#                   runs their long versions)
#   ctl.scale       sluiced's CPU, RSS, reload, adoption and scrape with
#                   10,000 backends checked over TCP each second against
#                   real listeners (bench/scale.sh)
#   machine         first, always: what the figures were measured on (CPUs,
#                   model, kernel, whether it is a guest, the kernel's
#                   speculation mitigations for returns and indirect
#                   branches, which weigh on every system call and helper)
# Exit status: 0, or 1 when a benchmark failed or a path check did not hold.
# A lab that cannot run here (not root, tools missing) is reported as a
# "skipped" line, not a failure.
#
# Environment: BENCH_REPEAT (1000000), BENCH_RUNS (5), BENCH_LIVE_COUNT
# (frames per round, 10000000), BENCH_LIVE_ROUNDS (3), BENCH_ONLY (test_run,
# live, ctl, drill, peer, abuse or scale: run one part), BENCH_SCALE_RUNS (1),
# BENCH_SCALE_WINDOW_S (20).
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${LAB_BUILD:-$TOP/build}
REPEAT=${BENCH_REPEAT:-1000000}
RUNS=${BENCH_RUNS:-5}
LIVE_COUNT=${BENCH_LIVE_COUNT:-10000000}
LIVE_ROUNDS=${BENCH_LIVE_ROUNDS:-3}
ONLY=${BENCH_ONLY:-}

# JSON keeps the real stdout (fd 3); everything else, the lab's chatter
# included, goes to stderr.
exec 3>&1 1>&2
log() { echo "bench: $*" >&2; }
status=0

if [ "$(id -u)" != 0 ]; then
	log "benchmarks need root (BPF_PROG_TEST_RUN, namespaces)"
	exit 1
fi
for t in xdp_bench livepps; do
	[ -x "$B/bench/$t" ] || { log "$B/bench/$t not built (make all)"; exit 1; }
done

# ---- 0. the machine ------------------------------------------------------
vuln() { tr -d '"\\' <"/sys/devices/system/cpu/vulnerabilities/$1" 2>/dev/null || echo unknown; }
printf '{"bench":"machine","cpus":%s,"model":"%s","kernel":"%s","guest":%s,"spec_rstack_overflow":"%s","spectre_v2":"%s","retbleed":"%s"}\n' \
	"$(nproc)" "$(awk -F': ' '/^model name/ { gsub(/["\\]/, "", $2); print $2; exit }' /proc/cpuinfo)" "$(uname -r)" \
	"$(grep -qw hypervisor /proc/cpuinfo && echo true || echo false)" \
	"$(vuln spec_rstack_overflow)" "$(vuln spectre_v2)" "$(vuln retbleed)" >&3

# ---- 1. ns/packet (about 15 s) ------------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = test_run ]; then
	log "xdp_bench: repeat $REPEAT, median of $RUNS runs"
	if ! timeout --foreground 300 "$B/bench/xdp_bench" --repeat "$REPEAT" --runs "$RUNS" >&3; then
		log "FAIL: xdp_bench"
		status=1
	fi
fi

# ---- 2. packets/s in the lab (about 1-2 min) ------------------------------
# A subshell of its own, so its EXIT trap (lab_down) runs whatever happens
# inside it: failure, a timeout, Ctrl-C (INT reaches the whole foreground
# process group; the lab's traps turn it into an exit).
live() {
	LAB_PREFIX=slb$$
	# shellcheck disable=SC1091
	. "$TOP/tests/e2e/lab.sh"
	lab_require
	lab_require_sluiced
	trap lab_down EXIT
	lab_trap_signals
	lab_up || { lab_log "lab_up failed"; exit 1; }
	lab_write_config "$LAB_DIR/sluice.conf" v4 1 2 3 || exit 1

	lab_start_sluiced "$LAB_DIR/sluice.conf" || lab_fail "sluiced did not start"
	log "livepps: sluice and the bare redirect, alternating, $LIVE_ROUNDS x $LIVE_COUNT frames each"
	timeout --foreground 300 "$B/bench/livepps" --prefix "$LAB_PREFIX" --mode both --pin-root "$LAB_PIN_ROOT" \
		--count "$LIVE_COUNT" --rounds "$LIVE_ROUNDS" >"$LAB_DIR/livepps.out"
	rc=$?
	case $rc in
	0) cat "$LAB_DIR/livepps.out" >&3 ;;
	77) # the kernel refuses live frames: said, not measured
		jq -c '{bench: "xdp.live_pps"} + .' "$LAB_DIR/livepps.out" >&3 ;;
	*) log "livepps failed (exit $rc)"; exit 1 ;;
	esac
}

if [ -z "$ONLY" ] || [ "$ONLY" = live ]; then
	(live)
	rc=$?
	case $rc in
	0) ;;
	77)
		log "SKIP: xdp.live_pps: the lab cannot run here"
		echo '{"bench":"xdp.live_pps","skipped":"the lab cannot run here (see stderr)"}' >&3 ;;
	*)
		log "FAIL: xdp.live_pps (exit $rc)"
		status=1 ;;
	esac
fi

# ---- 3. control plane: load, reload, adoption (about 15 s) --------------
if [ -z "$ONLY" ] || [ "$ONLY" = ctl ]; then
	timeout --foreground 300 "$TOP/bench/ctl_bench.sh" >&3 || { log "FAIL: ctl_bench"; status=1; }
fi

# ---- 4. failure drills (about 30 s) ---------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = drill ]; then
	timeout --foreground 300 "$TOP/bench/drill.sh" >&3 || { log "FAIL: drills"; status=1; }
fi

# ---- 5. against its peers: nftables DNAT, HAProxy (about 1-2 min) ------------
if [ -z "$ONLY" ] || [ "$ONLY" = peer ]; then
	timeout --foreground 300 "$TOP/bench/peers.sh" >&3
	rc=$?
	case $rc in
	0) ;;
	77)
		log "SKIP: peer: the lab cannot run here"
		echo '{"bench":"peer","skipped":"the lab cannot run here (see stderr)"}' >&3 ;;
	*)
		log "FAIL: peers (exit $rc)"
		status=1 ;;
	esac
fi

# ---- 6. abuse: random frames, SYN flood, table full, kill -9 (about 30 s) --
if [ -z "$ONLY" ] || [ "$ONLY" = abuse ]; then
	timeout --foreground 3600 "$TOP/bench/abuse.sh" >&3 || { log "FAIL: abuse"; status=1; }
fi

# ---- 7. at scale, checks running (about 1 min a run) ---------------------
if [ -z "$ONLY" ] || [ "$ONLY" = scale ]; then
	timeout --foreground 300 "$TOP/bench/scale.sh" >&3 || { log "FAIL: scale"; status=1; }
fi

exit $status
