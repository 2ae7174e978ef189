#!/usr/bin/env bash
# Control-plane benchmarks on a config of 1,000 services x 10 backends:
#   ctl.load_cold_ms       first start (no pins) to "ready"
#   ctl.reload_one_ms      SIGHUP with one backend's weight changed to "config applied"
#   ctl.restart_adopt_ms   a new sluiced over that config's pins to "ready"
#   ctl.cli_roundtrip_us   `sluice -j service list` against it, exec to exit
#   metrics.scrape_ms      `curl -o /dev/null http://127.0.0.1:9469/metrics`
#                          after the cold start: curl's time_total, connect
#                          to last byte (BENCH_METRICS_SCRAPES, 10, per run;
#                          one more scrape, kept, is checked for the last service)
# Each is the median of BENCH_CTL_RUNS (3) runs, as sluiced itself measures
# it (CLOCK_MONOTONIC from main() or from reading SIGHUP to the log line;
# exec and dynamic linking, about a millisecond, are not in it).
#
# sluiced runs in a private network namespace (slcb<pid>) with one veth
# pair to attach to; nothing is routed, no traffic flows. Pins under
# /sys/fs/bpf/sluice-slcb<pid>. Namespace, pins and files are removed on
# exit. stdout: JSON lines only.
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${LAB_BUILD:-$TOP/build}
SLUICED=$B/sluiced
RUNS=${BENCH_CTL_RUNS:-3}
NSVC=${BENCH_CTL_SERVICES:-1000}
NBK=${BENCH_CTL_BACKENDS:-10}
P=slcb$$
NS=$P
PIN=/sys/fs/bpf/sluice-$P
exec 3>&1 1>&2
log() { echo "ctl_bench: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
[ -x "$SLUICED" ] || { log "$SLUICED not built (make all)"; exit 1; }
DIR=$(mktemp -d "/tmp/sluice-ctl-$P.XXXXXX") || exit 1
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	case $PIN in /sys/fs/bpf/sluice-slcb?*) rm -rf -- "$PIN" ;; esac
	case $DIR in /tmp/sluice-ctl-slcb?*) rm -rf -- "$DIR" ;; esac
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
ip -n "$NS" link add cb0 type veth peer name cb1 || exit 1
ip -n "$NS" link set cb0 up && ip -n "$NS" link set cb1 up || exit 1

# gen WEIGHT_OF_FIRST_BACKEND: the config on stdout. Service i: VIP
# 198.18.(16 + i / 250).(i % 250 + 1):80; its backends 198.19.x.y:80, all
# distinct.
gen() {
	awk -v ns="$NSVC" -v nb="$NBK" -v pin="$PIN" -v run="$DIR/run" -v w0="$1" 'BEGIN {
		print "interfaces = ( \"cb0\", \"cb1\" );"
		printf "pin_root = \"%s\";\nrun_dir = \"%s\";\nconn_table_size = 65536;\nservices = (\n", pin, run
		for (i = 0; i < ns; i++) {
			printf "  { name = \"s%d\"; vip = \"198.18.%d.%d\"; port = 80; proto = \"tcp\";\n    backends = (\n", i, 16 + int(i / 250), i % 250 + 1
			for (j = 0; j < nb; j++) {
				k = i * nb + j
				printf "      { addr = \"198.19.%d.%d\"; port = 80; weight = %d; }%s\n", int(k / 250), k % 250 + 1, (k == 0 ? w0 : 1), (j < nb - 1 ? "," : "")
			}
			printf "    ); }%s\n", (i < ns - 1 ? "," : "")
		}
		print ");"
	}'
}
conf=$DIR/sluice.conf
gen 1 >"$conf" || exit 1
mkdir -p "$DIR/run"
LOG=$DIR/sluiced.log
: >"$LOG"

# wait_for PATTERN COUNT: bounded (60 s); 1 if sluiced died or it never came.
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
start() {
	nsenter --net="/run/netns/$NS" -- "$SLUICED" --config "$conf" >>"$LOG" 2>&1 </dev/null &
	SPID=$!
	wait_for 'sluiced: ready' "$1"
}
stop() {
	kill -TERM "$SPID" && wait "$SPID"
	SPID=
}
last_ms() { grep -- "$1" "$LOG" | tail -n 1 | sed -n 's/.* in \([0-9.]*\) ms$/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

SCRAPES=${BENCH_METRICS_SCRAPES:-10}
cold=() reload=() adopt=() cli=() scrape=()
scrape_bytes=0
readies=0 applied=0
for ((r = 1; r <= RUNS; r++)); do
	nsenter --net="/run/netns/$NS" -- "$SLUICED" --config "$conf" --detach >>"$LOG" 2>&1 || exit 1
	gen 1 >"$conf"
	readies=$((readies + 1))
	start "$readies" || exit 1
	grep -q 'adopted pinned' <(tail -n 3 "$LOG") && { log "cold start adopted pins"; exit 1; }
	cold+=("$(last_ms 'sluiced: ready')")
	# /metrics on the default 127.0.0.1:9469, inside sluiced's namespace
	n=${#scrape[@]}
	mapfile -t -O "$n" scrape < <(nsenter --net="/run/netns/$NS" -- bash -c '
		curl -sS --fail --max-time 10 -o "$2" http://127.0.0.1:9469/metrics || exit 1
		for ((k = 0; k < $1; k++)); do
			curl -sS --fail --max-time 10 -o /dev/null -w "%{time_total}\n" http://127.0.0.1:9469/metrics |
				awk "{ printf \"%.3f\n\", \$1 * 1000 }" || exit 1
		done' _ "$SCRAPES" "$DIR/scrape.txt")
	((${#scrape[@]} == n + SCRAPES)) || { log "scraping /metrics failed"; exit 1; }
	scrape_bytes=$(wc -c <"$DIR/scrape.txt")
	grep -q "^sluice_backend_new_flows_total{service=\"s$((NSVC - 1))\"," "$DIR/scrape.txt" ||
		{ log "the scrape lacks the last service's backends"; exit 1; }

	gen $((r + 1)) >"$conf.new" && mv "$conf.new" "$conf"
	applied=$((applied + 1))
	kill -HUP "$SPID"
	wait_for 'sluiced: config applied' "$applied" || exit 1
	reload+=("$(last_ms 'sluiced: config applied')")

	stop || exit 1
	readies=$((readies + 1))
	start "$readies" || exit 1
	tail -n 3 "$LOG" | grep -q 'adopted pinned state, config unchanged' || { log "restart did not adopt"; tail -n 5 "$LOG" >&2; exit 1; }
	adopt+=("$(last_ms 'sluiced: ready')")
	# What a user waits for: exec, the request, a paged dump of every
	# service, JSON out.
	# (netlink is per network namespace: time it from inside sluiced's.)
	n=${#cli[@]}
	mapfile -t -O "$n" cli < <(nsenter --net="/run/netns/$NS" -- bash -c '
		for ((k = 0; k < 10; k++)); do
			t0=$(date +%s%N)
			"$1" -R "$2" -j service list >/dev/null || exit 1
			t1=$(date +%s%N)
			echo $(((t1 - t0) / 1000))
		done' _ "$B/sluice" "$DIR/run")
	((${#cli[@]} == n + 10)) || { log "sluice service list failed"; exit 1; }
	stop || exit 1
	log "run $r: cold ${cold[-1]} ms, reload one ${reload[-1]} ms, adopt ${adopt[-1]} ms, cli ${cli[-1]} us, scrape ${scrape[-1]} ms"
done
cfg="\"services\":$NSVC,\"backends_per_service\":$NBK,\"runs\":$RUNS"
printf '{"bench":"ctl.load_cold_ms","value":%s,"target":2000,%s}\n' "$(printf '%s\n' "${cold[@]}" | median)" "$cfg" >&3
printf '{"bench":"ctl.reload_one_ms","value":%s,"target":10,%s}\n' "$(printf '%s\n' "${reload[@]}" | median)" "$cfg" >&3
printf '{"bench":"ctl.restart_adopt_ms","value":%s,"target":1000,%s}\n' "$(printf '%s\n' "${adopt[@]}" | median)" "$cfg" >&3
printf '{"bench":"metrics.scrape_ms","value":%s,"target":50,"bytes":%s,"command":"curl -o /dev/null http://127.0.0.1:9469/metrics","scrapes_per_run":%s,%s}\n' "$(printf '%s\n' "${scrape[@]}" | median)" "$scrape_bytes" "$SCRAPES" "$cfg" >&3
printf '{"bench":"ctl.cli_roundtrip_us","value":%s,"command":"sluice -j service list",%s}\n' "$(printf '%s\n' "${cli[@]}" | median)" "$cfg" >&3
