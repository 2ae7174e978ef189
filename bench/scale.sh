#!/usr/bin/env bash
# sluiced at scale with its checks running: 1,000 services x 10 backends,
# every backend with a TCP check each second against a real listener.
#
# Lab: a gateway namespace (slsc<pid>) where sluiced runs, attached to a
# veth pair of its own (cb0/cb1, no traffic); four backend namespaces
# (slsc<pid>b0..b3), each behind a veth from the gateway. Backend namespace
# j holds 198.19.(16j).0/20 as a local route on lo, so one listener
# (bench/sllisten.c, accept and close) on 0.0.0.0:80 answers for all of its
# 2,500 backend addresses 198.19.(16j + m / 250).(m % 250 + 1).
#
# The backends' TCP stacks run in this host's kernel. A packet sent over a
# veth is received in the sender's softirq, so every SYN sluiced sends
# would be answered (SYN-ACK, accept, the listener's wake-up) inside
# sluiced's own connect() and charged to it, as a remote backend's kernel
# never is. On 2 or more CPUs the lab therefore runs like a gateway with
# its backends elsewhere: sluiced pinned to CPU 0; the backend
# namespaces' receive processing steered to CPU 1 (RPS on their veth)
# and their listeners pinned there. The same window is then measured
# again with neither steering nor pinning (cpu_pct_colocated), so both
# figures are side by side.
#
# Measured, one JSON line per run (BENCH_SCALE_RUNS, 1):
#   cpu_pct    sluiced's utime + stime over a steady window
#              (BENCH_SCALE_WINDOW_S, 20 s) after every backend is up,
#              in % of one core (user_pct and sys_pct split it), backends
#              steered off sluiced's CPU as above
#   cpu_pct_colocated  the same over a second window, no steering
#   rss_mb     VmRSS at the end of the window
#   checks_per_s  sum of sluice_backend_checks_total over the window
#   up         backends with sluice_backend_health_state{state="up"} 1,
#              read at the end of the window (must be all of them)
#   scrape_ms  curl's time_total for /metrics, median of 5 (after the window)
#   reload_ms  SIGHUP with one weight changed: "config applied ... in X ms"
#   adopt_ms   SIGTERM, a new sluiced over the pins: "ready ... in X ms"
# Everything is removed on exit (namespaces, pins, files, processes started
# here). stdout: JSON lines only. About 1 minute a run.
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${LAB_BUILD:-$TOP/build}
SLUICED=$B/sluiced
RUNS=${BENCH_SCALE_RUNS:-1}
WINDOW=${BENCH_SCALE_WINDOW_S:-20}
NSVC=1000 NBK=10 NNS=4
NTOT=$((NSVC * NBK))
P=slsc$$
NS=$P
PIN=/sys/fs/bpf/sluice-$P
exec 3>&1 1>&2
log() { echo "scale: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
[ -x "$SLUICED" ] || { log "$SLUICED not built (make all)"; exit 1; }
command -v curl >/dev/null || { log "needs curl"; exit 1; }
DIR=$(mktemp -d "/tmp/sluice-scale-$P.XXXXXX") || exit 1
LOG=$DIR/sluiced.log
SPID=
LPIDS=()
cleanup() {
	[ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ -n "${BENCH_SCALE_LOG:-}" ] && cp -- "$LOG" "$BENCH_SCALE_LOG"
	for p in "${LPIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for ((j = 0; j < NNS; j++)); do ip netns del "${NS}b$j" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	case $PIN in /sys/fs/bpf/sluice-slsc?*) rm -rf -- "$PIN" ;; esac
	case $DIR in /tmp/sluice-scale-slsc?*) rm -rf -- "$DIR" ;; esac
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -o "$DIR/sllisten" "$TOP/bench/sllisten.c" || { log "cannot build bench/sllisten.c"; exit 1; }

# ---- the lab --------------------------------------------------------------
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
ip -n "$NS" link add cb0 type veth peer name cb1 || exit 1
ip -n "$NS" link set cb0 up && ip -n "$NS" link set cb1 up || exit 1
# 10,000 new connections a second out of one address per backend subnet
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
for ((j = 0; j < NNS; j++)); do
	b=${NS}b$j
	ip netns add "$b" || exit 1
	ip -n "$b" link set lo up
	ip -n "$NS" link add "sb$j" type veth peer name eth0 netns "$b" || exit 1
	ip -n "$NS" addr add "198.18.200.$((4 * j + 1))/30" dev "sb$j"
	ip -n "$NS" link set "sb$j" up
	ip -n "$b" addr add "198.18.200.$((4 * j + 2))/30" dev eth0
	ip -n "$b" link set eth0 up
	ip -n "$b" route add local "198.19.$((16 * j)).0/20" dev lo
	ip -n "$NS" route add "198.19.$((16 * j)).0/20" via "198.18.200.$((4 * j + 2))" || exit 1
	ip netns exec "$b" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
	ip netns exec "$b" "$DIR/sllisten" 80 &
	LPIDS+=($!)
done

# gen WEIGHT_OF_FIRST_BACKEND: service i, VIP 198.18.(16 + i / 250).(i % 250 + 1):80;
# backend k = 10 i + j lives in namespace k % 4 (m = k / 4 there)
gen() {
	awk -v ns="$NSVC" -v nb="$NBK" -v nns="$NNS" -v pin="$PIN" -v run="$DIR/run" -v w0="$1" 'BEGIN {
		print "interfaces = ( \"cb0\", \"cb1\" );"
		printf "pin_root = \"%s\";\nrun_dir = \"%s\";\nconn_table_size = 65536;\nservices = (\n", pin, run
		for (i = 0; i < ns; i++) {
			printf "  { name = \"s%d\"; vip = \"198.18.%d.%d\"; port = 80; proto = \"tcp\";\n    backends = (\n", i, 16 + int(i / 250), i % 250 + 1
			for (j = 0; j < nb; j++) {
				k = i * nb + j; n = k % nns; m = int(k / nns)
				printf "      { addr = \"198.19.%d.%d\"; port = 80; weight = %d;\n        check = { type = \"tcp\"; interval_ms = 1000; timeout_ms = 500; }; }%s\n", 16 * n + int(m / 250), m % 250 + 1, (k == 0 ? w0 : 1), (j < nb - 1 ? "," : "")
			}
			printf "    ); }%s\n", (i < ns - 1 ? "," : "")
		}
		print ");"
	}'
}
# steer on|off: the backends' kernel work and listeners on CPU 1, sluiced
# on CPU 0; or everything anywhere
STEER=0
[ "$(nproc)" -ge 2 ] && STEER=1
steer() {
	local j p mask=0 cpus sl
	cpus=0-$(($(nproc) - 1)) sl=0-$(($(nproc) - 1))
	if [ "$1" = on ]; then mask=2 cpus=1 sl=0; fi
	for ((j = 0; j < NNS; j++)); do
		ip netns exec "${NS}b$j" sh -c "echo $mask > /sys/class/net/eth0/queues/rx-0/rps_cpus" || return 1
	done
	for p in "${LPIDS[@]}"; do taskset -apc "$cpus" "$p" >/dev/null || return 1; done
	[ -z "$SPID" ] || taskset -apc "$sl" "$SPID" >/dev/null
}
conf=$DIR/sluice.conf
mkdir -p "$DIR/run"
: >"$LOG"

wait_for() {
	local k
	for ((k = 0; k < 600; k++)); do
		[ "$(grep -c -- "$1" "$LOG")" -ge "$2" ] && return 0
		kill -0 "$SPID" 2>/dev/null || { log "sluiced exited"; tail -n 5 "$LOG" >&2; return 1; }
		sleep 0.1
	done
	log "no '$1' within 60 s"
	return 1
}
readies=0 applied=0
start() {
	nsenter --net="/run/netns/$NS" -- "$SLUICED" --config "$conf" >>"$LOG" 2>&1 </dev/null &
	SPID=$!
	readies=$((readies + 1))
	wait_for 'sluiced: ready' "$readies"
}
stop() {
	kill -TERM "$SPID" && wait "$SPID"
	SPID=
}
last_ms() { grep -- "$1" "$LOG" | tail -n 1 | sed -n 's/.* in \([0-9.]*\) ms$/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# /metrics is large here (tens of MB) and served by the loop the checks
# run in: a scrape may be cut off (libmicrohttpd's 10 s timeout); retried
scrape() {
	local k
	for ((k = 0; k < 3; k++)); do
		nsenter --net="/run/netns/$NS" -- curl -sS --fail --max-time 60 -o "$1" http://127.0.0.1:9469/metrics && return 0
		log "scrape failed, retrying"
	done
	return 1
}
# from a scrape: backends up, checks so far
n_up() { grep -c '^sluice_backend_health_state{.*state="up"} 1$' "$1"; }
n_checks() { awk '/^sluice_backend_checks_total/ { s += $NF } END { printf "%d\n", s }' "$1"; }
cputicks() { awk '{ print $14 + $15, $14, $15 }' "/proc/$SPID/stat"; }

HZ=$(getconf CLK_TCK)
for ((r = 1; r <= RUNS; r++)); do
	nsenter --net="/run/netns/$NS" -- "$SLUICED" --config "$conf" --detach >>"$LOG" 2>&1 </dev/null
	gen 1 >"$conf" || exit 1
	start || exit 1
	# warm-up: every check up (rise 2 at 1 s: about 2-3 s)
	up=0
	for ((k = 0; k < 40; k++)); do
		sleep 0.5
		scrape "$DIR/m.txt" || exit 1
		up=$(n_up "$DIR/m.txt")
		[ "$up" -ge "$NTOT" ] && break
	done
	[ "$up" -ge "$NTOT" ] || { log "only $up of $NTOT backends up after 20 s"; exit 1; }
	log "run $r: all $up backends up; steady windows of $WINDOW s"
	# window: CPU % (total user sys) and checks/s over WINDOW seconds
	window() {
		local c0 u0 s0 c1 u1 s1 t0 t1 k0
		sleep 2
		scrape "$DIR/m0.txt" || return 1
		k0=$(n_checks "$DIR/m0.txt")
		read -r c0 u0 s0 < <(cputicks)
		t0=$(date +%s%N)
		sleep "$WINDOW"
		read -r c1 u1 s1 < <(cputicks)
		t1=$(date +%s%N)
		scrape "$DIR/m1.txt" || return 1
		awk -v c="$((c1 - c0))" -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$HZ" \
			-v ns="$((t1 - t0))" -v k0="$k0" -v k1="$(n_checks "$DIR/m1.txt")" \
			'BEGIN { t = ns / 1e9; printf "%.1f %.1f %.1f %.0f\n", 100 * c / hz / t, 100 * u / hz / t, 100 * s / hz / t, (k1 - k0) / t }'
	}
	cpu_co=null
	if ((STEER)); then
		steer off || exit 1
		read -r cpu_co _ _ _ < <(window) || exit 1
		steer on || exit 1
	fi
	read -r cpu usr sys cps < <(window) || exit 1
	rss=$(awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$SPID/status")
	up=$(n_up "$DIR/m1.txt")
	[ "$up" -ge "$NTOT" ] || { log "only $up of $NTOT backends up at the end of the window"; exit 1; }
	sc=()
	for ((k = 0; k < 5; k++)); do
		t=$(nsenter --net="/run/netns/$NS" -- curl -sS --fail --max-time 60 -o /dev/null \
			-w '%{time_total}\n' http://127.0.0.1:9469/metrics | awk '{ printf "%.3f\n", $1 * 1000 }')
		[ -n "$t" ] && sc+=("$t")
	done
	scrape_ms=$( ((${#sc[@]})) && printf '%s\n' "${sc[@]}" | median)
	: "${scrape_ms:=null}"   # every scrape cut off
	scrape_bytes=$(wc -c <"$DIR/m1.txt")

	gen 2 >"$conf.new" && mv "$conf.new" "$conf"
	applied=$((applied + 1))
	kill -HUP "$SPID"
	wait_for 'sluiced: config applied' "$applied" || exit 1
	reload_ms=$(last_ms 'sluiced: config applied')
	stop || exit 1
	start || exit 1
	tail -n 3 "$LOG" | grep -q 'adopted pinned state, config unchanged' || { log "restart did not adopt"; tail -n 5 "$LOG" >&2; exit 1; }
	adopt_ms=$(last_ms 'sluiced: ready')
	stop || exit 1
	log "run $r: cpu $cpu % (user $usr, sys $sys; colocated $cpu_co %), rss $rss MB, $cps checks/s, $up up, scrape $scrape_ms ms, reload $reload_ms ms, adopt $adopt_ms ms"
	printf '{"bench":"ctl.scale","cpu_pct":%s,"user_pct":%s,"sys_pct":%s,"cpu_pct_colocated":%s,"steered":%s,"rss_mb":%s,"reload_ms":%s,"adopt_ms":%s,"scrape_ms":%s,"scrape_ok":%s,"scrape_bytes":%s,"checks_per_s":%s,"up":%s,"window_s":%s,"backends":%s,"services":%s,"check_interval_ms":1000,"target_cpu_pct":10}\n' \
		"$cpu" "$usr" "$sys" "$cpu_co" "$STEER" "$rss" "$reload_ms" "$adopt_ms" "$scrape_ms" "${#sc[@]}" "$scrape_bytes" "$cps" "$up" "$WINDOW" "$NTOT" "$NSVC" >&3
done
