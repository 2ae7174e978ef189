#!/usr/bin/env bash
# sluice against its peers (`make bench`, part "peer"): one standard lab,
# the same work through three gateways in turn, each alone on the gateway:
#   sluice   sluiced + XDP on the gateway's veths (as lab_start_sluiced)
#   nft      nftables DNAT in the gateway namespace (kernel path, conntrack):
#            `numgen inc mod 3` over the three backends, no health checks;
#            XDP detached
#   haproxy  HAProxy (Debian package) in TCP mode in the gateway namespace,
#            listening on the VIP (added to the gateway's lo for its round
#            only), set as close to sluice's service as it allows: checks
#            every 200 ms with fall 2 rise 2, maxconn 10000, observe layer4
#            (3 consecutive errors mark the server down, as sluice's breaker
#            trips after 3), timeout connect 200 ms, option redispatch,
#            retries 2
# Work, per gateway:
#   conn_rate       wrk -H "Connection: close" from the client: new connections/s
#   keepalive_rate  wrk with keep-alive: requests/s
#   drill.crash / drill.blackhole
#                   bench/drill.sh's method: slconn at DRILL_RATE (200) new
#                   connections/s for DRILL_SECONDS (4); at 1 s b2's nginx is
#                   killed / b2 is black-holed; failed client connections
#                   counted; detection time (injection to the gateway taking
#                   b2 out: sluice's gate, HAProxy's server status; nft has
#                   no checks: null) and the latency the failure added to
#                   answered connections (p99 and max of connect() to the
#                   response's end, less the drill's median); b2 restored and
#                   the gateway restarted after each
#   live_pps        build/bench/livepps (live frames, BPF_F_TEST_XDP_LIVE_FRAMES,
#                   one TCP flow from the client to the VIP, counted and
#                   dropped by XDP on every backend's eth0): sluice with
#                   `--mode both` (its figure; the bare redirect alternates
#                   with it), nft with `--mode kernel` (nothing on gw-c, the
#                   kernel forwards and DNATs; conntrack picks the flow up
#                   mid-stream). HAProxy terminates TCP: no frame path.
#                   Each program's rounds last about PEER_LIVE_SECONDS,
#                   sized from a probe round of PEER_LIVE_COUNT frames
#                   (livepps --seconds): a round has a fixed cost (~30 ms
#                   here), which in rounds of one frame count weighs 9 %
#                   on sluice's 0.3 s and 2 % on the kernel's 1.4 s.
# One JSON line each on stdout: peer.conn_rate, peer.keepalive_rate,
# peer.drill.crash, peer.drill.blackhole, peer.live_pps, with each gateway's
# figure, the ratios vs_nft = sluice/nft and vs_haproxy = sluice/haproxy
# (null when the divisor is 0 or a figure is missing) and, for the rates,
# p50/p99 latency. Targets are reported, never enforced.
#
# The rates run in PEER_ROUNDS rounds, the gateways' order reversed every
# other round; a gateway's figure is its best round (with that round's
# latency), every round's rate in <gateway>_rounds.
#
# Environment: PEER_SECONDS (wrk duration, 5), PEER_THREADS (2),
# PEER_CONNS (50), PEER_ROUNDS (2), DRILL_RATE (200), DRILL_SECONDS (4),
# PEER_LIVE_COUNT (frames in livepps's probe round, 1000000),
# PEER_LIVE_SECONDS (length of a livepps round, 2), PEER_LIVE_ROUNDS (3).
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${PEER_SECONDS:-5}
THREADS=${PEER_THREADS:-2}
CONNS=${PEER_CONNS:-50}
ROUNDS=${PEER_ROUNDS:-2}
RATE=${DRILL_RATE:-200}
DSECS=${DRILL_SECONDS:-4}
LIVE_COUNT=${PEER_LIVE_COUNT:-1000000}
LIVE_SECONDS=${PEER_LIVE_SECONDS:-2}
LIVE_ROUNDS=${PEER_LIVE_ROUNDS:-3}
LIVE_SKIPPED=
MAXCONN=10000
CT_MS=200
NOTE="2-core VM: wrk, the gateway (sluice's XDP, the kernel's nft path or HAProxy) and the three nginx backends share both CPUs, so every figure is bounded by the client and backends as much as by the gateway"
exec 3>&1 1>&2
log() { echo "peers: $*" >&2; }

for t in wrk haproxy nft; do
	command -v "$t" >/dev/null 2>&1 || {
		log "$t not installed (make deps)"
		echo "{\"bench\":\"peer\",\"skipped\":\"$t not installed\"}" >&3
		exit 0
	}
done

LAB_PREFIX=slp$$
# shellcheck disable=SC1091
. "$TOP/tests/e2e/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals
lab_up || lab_fail "lab_up"
GW=$LAB_PREFIX-gw
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA="connect_timeout_ms = $CT_MS; on_trip = \"reset\"; max_conns = $MAXCONN;
    check = { type = \"tcp\"; interval_ms = 200; timeout_ms = 200; rise = 2; fall = 2; };
    breaker = { consecutive_failures = 3; open_ms = 5000; };"
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"

# ---- the three gateways: start and stop ----------------------------------
HAP_PID=
sluice_start() { lab_start_sluiced "$conf"; }
sluice_stop() {
	lab_stop_sluiced >/dev/null
	lab_detach "$conf" >/dev/null
}

nft_start() {
	lab_exec gw nft -f - <<EOF
table ip sl_peer {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $LAB_VIP4 tcp dport $LAB_PORT dnat to numgen inc mod 3 map { 0 : ${LAB_BK4[1]}, 1 : ${LAB_BK4[2]}, 2 : ${LAB_BK4[3]} }
	}
}
EOF
}
nft_stop() { lab_exec gw nft delete table ip sl_peer 2>/dev/null; return 0; }

hap_conf() {
	cat >"$LAB_DIR/haproxy.cfg" <<EOF
# HAProxy for lab $LAB_PREFIX: as close to sluice's service as it allows
global
	# no global maxconn: HAProxy sizes it from the open-files limit (it
	# needs 2 descriptors a connection and cannot raise the hard limit
	# here); the frontend's maxconn is sluice's max_conns
	pidfile $LAB_DIR/haproxy.pid
	# bench/peers.sh's drills read b2's status here (sldrill --haproxy)
	stats socket $LAB_DIR/haproxy.sock mode 600 level admin
defaults
	mode tcp
	timeout connect ${CT_MS}ms
	timeout client 30s
	timeout server 30s
	retries 2
	option redispatch
frontend web
	bind $LAB_VIP4:$LAB_PORT
	maxconn $MAXCONN
	default_backend bk
backend bk
	balance roundrobin
	# on-marked-down shutdown-sessions: sluice's on_trip = "reset"
	default-server check inter 200ms fall 2 rise 2 observe layer4 error-limit 3 on-error mark-down on-marked-down shutdown-sessions
	server b1 ${LAB_BK4[1]}:$LAB_PORT
	server b2 ${LAB_BK4[2]}:$LAB_PORT
	server b3 ${LAB_BK4[3]}:$LAB_PORT
EOF
}
hap_start() {
	local k
	lab_exec gw ip addr add "$LAB_VIP4/32" dev lo 2>/dev/null
	lab_bg "$LAB_DIR/haproxy.log" gw haproxy -db -f "$LAB_DIR/haproxy.cfg"
	HAP_PID=$LAB_LAST_PID
	for ((k = 0; k < 100; k++)); do
		lab_exec gw ss -Hltn "sport = :$LAB_PORT" | grep -q "$LAB_VIP4" && { sleep 0.5; return 0; }
		kill -0 "$HAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "haproxy did not start: $(cat "$LAB_DIR/haproxy.log")"
	return 1
}
hap_stop() {
	if [ -n "$HAP_PID" ]; then
		kill -TERM "$HAP_PID" 2>/dev/null
		lab_wait_pid "$HAP_PID" 100 >/dev/null
		HAP_PID=
	fi
	lab_exec gw ip addr del "$LAB_VIP4/32" dev lo 2>/dev/null
	return 0
}

# ---- the work --------------------------------------------------------------
# to_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.20s" in ms
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "null" }'
}

# run_wrk GW KIND ROUND [wrk options]: KIND's figures for GW in ROUND into
# R_<KIND>_<GW>_<ROUND>*
run_wrk() {
	local gw=$1 kind=$2 r=$3 out=$LAB_DIR/wrk.$1.$2.$3 rps p50 p99 err
	shift 3
	timeout $((SECS + 30)) nsenter --net="/run/netns/$LAB_PREFIX-c" -- \
		wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" --latency "$@" "http://$LAB_VIP4:$LAB_PORT/" >"$out" 2>&1
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	p50=$(awk '$1 == "50%" { print $2 }' "$out")
	p99=$(awk '$1 == "99%" { print $2 }' "$out")
	err=$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } /Non-2xx/ { n += $NF } END { print n + 0 }' "$out")
	[ -n "$p50" ] && p50=$(to_ms "$p50")
	[ -n "$p99" ] && p99=$(to_ms "$p99")
	printf -v "R_${kind}_${gw}_$r" %s "${rps:-null}"
	printf -v "R_${kind}_${gw}_${r}_p50" %s "${p50:-null}"
	printf -v "R_${kind}_${gw}_${r}_p99" %s "${p99:-null}"
	printf -v "R_${kind}_${gw}_${r}_err" %s "${err:-0}"
	log "$gw $kind round $r: ${rps:-?}/s p50 ${p50:-?} ms p99 ${p99:-?} ms errors ${err:-0} $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' \n' ' ')"
}

# drill GW NAME INJECT_CMD...: fresh gateway, slconn at RATE/s, inject at 1 s.
# Detection: sldrill runs the injection and times it to the gateway taking
# b2 out (sluice: b2's gate leaves CLOSED; HAProxy: b2's status in "show
# stat" leaves UP); nft has no health checks: it never takes b2 out (null).
# Added latency: each answered connection's time from connect() to the end
# of its response (slconn --connect-log), less the median of the drill; its
# p99 and max. The time to the response, not to the connect: HAProxy
# accepts the client's connect itself, and what a failed backend costs its
# clients shows only later.
drill() {
	local gw=$1 name=$2 out att fail rate_pid det id added
	shift 2
	"${gw}_start" || { log "$gw did not start for drill $name"; return 1; }
	lab_sports 2000 || return 1
	out=$LAB_DIR/drill.$gw.$name
	lab_bg "$out" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds "$DSECS" \
		--rate "$RATE" --concurrency 1000 --timeout-ms 3000 --sport-base "$LAB_SPORT" --sport-count 2000 \
		--connect-log "$out.connect"
	rate_pid=$LAB_LAST_PID
	sleep 1
	case $gw in
	sluice)
		id=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v a="${LAB_BK4[2]}:$LAB_PORT" '$1 == "backend" && $3 == a { print $2 }')
		det=$("$LAB_TOOLS/sldrill" "$LAB_PIN_ROOT" "$id" $(((DSECS - 1) * 1000)) -- "$@") ;;
	hap) det=$("$LAB_TOOLS/sldrill" --haproxy "$LAB_DIR/haproxy.sock" bk/b2 $(((DSECS - 1) * 1000)) -- "$@") ;;
	*) "$@"; det="detect_ms -" ;;
	esac
	lab_wait_pid "$rate_pid" 300
	det=$(echo "$det" | awk '$1 == "detect_ms" && $2 != "-" { print $2 }')
	att=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "attempted") print $(i + 1) }' "$out")
	fail=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "failed") print $(i + 1) }' "$out")
	added=$(awk '$3 != "-" { print $3 }' "$out.connect" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (!NR) { print "null null"; exit }
			med = v[int((NR + 1) / 2)]
			printf "%.1f %.1f\n", (v[int((NR - 1) * 0.99) + 1] - med) / 1000, (v[NR] - med) / 1000 }')
	printf -v "D_${name}_${gw}" %s "${fail:-null}"
	printf -v "D_${name}_${gw}_att" %s "${att:-null}"
	printf -v "D_${name}_${gw}_det" %s "${det:-null}"
	printf -v "D_${name}_${gw}_p99" %s "${added% *}"
	printf -v "D_${name}_${gw}_max" %s "${added#* }"
	log "$gw drill $name: failed ${fail:-?} of ${att:-?}, detected in ${det:-never} ms, added ${added% *} ms p99, ${added#* } ms max"
	grep 'sport' "$out" | head -n 5 | sed "s/^/peers: $gw $name: /" >&2
	"${gw}_stop"
}

crash_restore() { lab_backend_start 2 || lab_fail "restarting b2"; }

# rates GW ROUND: wrk through GW, both kinds, figures for ROUND
rates() {
	local gw=$1 r=$2
	if "${gw}_start"; then
		run_wrk "$gw" conn "$r" -H "Connection: close"
		run_wrk "$gw" ka "$r"
	else
		log "$gw did not start"
	fi
	"${gw}_stop"
	# let the backends' TIME_WAIT and the last FINs settle
	sleep 1
}

# best KIND GW: the round with the highest rate becomes R_KIND_GW*; all
# rounds' rates in R_KIND_GW_rounds
best() {
	local kind=$1 gw=$2 r b='' bv=-1 v all=''
	for ((r = 1; r <= ROUNDS; r++)); do
		local -n x=R_${kind}_${gw}_$r
		v=${x:-null}
		all+=${all:+,}$v
		if [ "$v" != null ] && ((v > bv)); then bv=$v b=$r; fi
		unset -n x
	done
	printf -v "R_${kind}_${gw}_rounds" '[%s]' "$all"
	[ -n "$b" ] || return 0
	local f
	for f in "" _p50 _p99 _err; do
		local -n src=R_${kind}_${gw}_${b}$f
		printf -v "R_${kind}_${gw}$f" %s "$src"
		unset -n src
	done
}

# drills GW: both drills through GW, b2 restored after each
drills() {
	local gw=$1
	drill "$gw" crash kill "$(cat "$LAB_DIR/b2/pid")"
	crash_restore
	drill "$gw" blackhole nsenter --net="/run/netns/$LAB_PREFIX-b2" -- nft -f "$TOP/bench/blackhole.nft"
	lab_blackhole 2 off
	sleep 0.5
}

# live GW: livepps through GW (sluice: --mode both; nft: --mode kernel);
# its packets/s into L_GW, its JSON line into the log
live() {
	local gw=$1 mode out=$LAB_DIR/livepps.$1 pps
	case $gw in
	sluice) mode=both ;;
	nft) mode=kernel ;;
	esac
	if "${gw}_start"; then
		timeout --foreground 120 "$LAB_BUILD/bench/livepps" --prefix "$LAB_PREFIX" --mode "$mode" \
			--pin-root "$LAB_PIN_ROOT" --count "$LIVE_COUNT" --seconds "$LIVE_SECONDS" --rounds "$LIVE_ROUNDS" >"$out"
		[ -z "$LIVE_SKIPPED" ] && jq -e .skipped "$out" >/dev/null 2>&1 && LIVE_SKIPPED=$(jq -r .skipped "$out")
		pps=$(sed -n 's/^{.*"pps":\([0-9][0-9]*\).*/\1/p' "$out")
		printf -v "L_$gw" %s "${pps:-null}"
		log "$gw live_pps: ${pps:-?} $(cat "$out")"
	else
		log "$gw did not start"
	fi
	"${gw}_stop"
}

# every figure starts as null: a gateway that did not start leaves it so
for g in sluice nft hap; do
	for k in conn ka; do
		for f in "" _p50 _p99 _err _rounds; do printf -v "R_${k}_${g}${f}" null; done
	done
	for k in crash blackhole; do
		printf -v "D_${k}_${g}" null
		printf -v "D_${k}_${g}_att" null
	done
done
L_sluice=null L_nft=null
hap_conf
# Rates in ROUNDS rounds, the gateways' order reversed every other round
# (none always runs first on a fresh lab); each gateway's best round counts.
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="sluice nft hap"; else order="hap nft sluice"; fi
	for g in $order; do
		log "---- $g, rates, round $r"
		rates "$g" "$r"
	done
done
for g in sluice nft hap; do
	best conn "$g"
	best ka "$g"
	log "---- $g, drills"
	drills "$g"
done
# Live frames last: the kernel round leaves the generator's flow in the
# gateway's conntrack table (DNAT'd), which no later work should meet.
for g in sluice nft; do
	log "---- $g, live frames, $LIVE_ROUNDS rounds of about $LIVE_SECONDS s"
	live "$g"
done

# ---- JSON ------------------------------------------------------------------
# ratio A B: A/B, null when either is missing or B is 0
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "null" || b == "null" || a == "" || b == "" || b + 0 == 0) print "null"
		else printf "%.2f", a / b }'
}

rate_line() {
	local kind=$1 name=$2 unit=$3 extra=$4 s n h
	local -n s_=R_${kind}_sluice n_=R_${kind}_nft h_=R_${kind}_hap
	s=$s_ n=$n_ h=$h_
	local -n sp50=R_${kind}_sluice_p50 sp99=R_${kind}_sluice_p99 se=R_${kind}_sluice_err
	local -n np50=R_${kind}_nft_p50 np99=R_${kind}_nft_p99 ne=R_${kind}_nft_err
	local -n hp50=R_${kind}_hap_p50 hp99=R_${kind}_hap_p99 he=R_${kind}_hap_err
	printf '{"bench":"peer.%s","unit":"%s","sluice":%s,"nft":%s,"haproxy":%s,"vs_nft":%s,"vs_haproxy":%s,' \
		"$name" "$unit" "$s" "$n" "$h" "$(ratio "$s" "$n")" "$(ratio "$s" "$h")" >&3
	printf '"sluice_p50_ms":%s,"sluice_p99_ms":%s,"nft_p50_ms":%s,"nft_p99_ms":%s,"haproxy_p50_ms":%s,"haproxy_p99_ms":%s,' \
		"$sp50" "$sp99" "$np50" "$np99" "$hp50" "$hp99" >&3
	local -n sr=R_${kind}_sluice_rounds nr=R_${kind}_nft_rounds hr=R_${kind}_hap_rounds
	printf '"sluice_rounds":%s,"nft_rounds":%s,"haproxy_rounds":%s,' "$sr" "$nr" "$hr" >&3
	printf '"sluice_errors":%s,"nft_errors":%s,"haproxy_errors":%s,"seconds":%s,"threads":%s,"connections":%s%s,"note":"%s"}\n' \
		"$se" "$ne" "$he" "$SECS" "$THREADS" "$CONNS" "$extra" "$NOTE" >&3
}

drill_line() {
	local name=$1
	local -n s=D_${name}_sluice n=D_${name}_nft h=D_${name}_hap
	local -n sa=D_${name}_sluice_att na=D_${name}_nft_att ha=D_${name}_hap_att
	local -n sd=D_${name}_sluice_det nd=D_${name}_nft_det hd=D_${name}_hap_det
	local -n sp=D_${name}_sluice_p99 np=D_${name}_nft_p99 hp=D_${name}_hap_p99
	local -n sm=D_${name}_sluice_max nm=D_${name}_nft_max hm=D_${name}_hap_max
	printf '{"bench":"peer.drill.%s","unit":"failed connections","sluice":%s,"nft":%s,"haproxy":%s,"vs_nft":%s,"vs_haproxy":%s,"sluice_attempted":%s,"nft_attempted":%s,"haproxy_attempted":%s,"sluice_detect_ms":%s,"nft_detect_ms":%s,"haproxy_detect_ms":%s,"sluice_added_ms_p99":%s,"nft_added_ms_p99":%s,"haproxy_added_ms_p99":%s,"sluice_added_ms_max":%s,"nft_added_ms_max":%s,"haproxy_added_ms_max":%s,"rate":%s,"seconds":%s,"target":"sluice failures <= haproxy","target_met":%s,"note":"%s"}\n' \
		"$name" "$s" "$n" "$h" "$(ratio "$s" "$n")" "$(ratio "$s" "$h")" "$sa" "$na" "$ha" \
		"${sd:-null}" "${nd:-null}" "${hd:-null}" "${sp:-null}" "${np:-null}" "${hp:-null}" "${sm:-null}" "${nm:-null}" "${hm:-null}" \
		"$RATE" "$DSECS" \
		"$(awk -v s="$s" -v h="$h" 'BEGIN { if (s == "null" || h == "null") print "null"; else print (s + 0 <= h + 0) ? "true" : "false" }')" \
		"$NOTE; detect_ms: injection to the gateway taking b2 out (null: never, nft has no checks); added_ms: time from connect() to the end of the response beyond the drill median, answered connections only" >&3
}

met() { # met VALUE MIN
	awk -v v="$1" -v m="$2" 'BEGIN { if (v == "null") print "null"; else print (v + 0 >= m) ? "true" : "false" }'
}

vn=$(ratio "$R_conn_sluice" "$R_conn_nft")
vh=$(ratio "$R_conn_sluice" "$R_conn_hap")
rate_line conn conn_rate "new connections/s" \
	",\"target_vs_nft\":1.2,\"target_vs_haproxy\":1.8,\"target_vs_nft_met\":$(met "$vn" 1.2),\"target_vs_haproxy_met\":$(met "$vh" 1.8)"
rate_line ka keepalive_rate "requests/s" ""
drill_line crash
drill_line blackhole
vl=$(ratio "$L_sluice" "$L_nft")
if [ -n "$LIVE_SKIPPED" ]; then
	jq -nc --arg why "$LIVE_SKIPPED" '{bench: "peer.live_pps", skipped: $why, target_vs_nft: 5}' >&3
else
printf '{"bench":"peer.live_pps","unit":"packets/s","sluice":%s,"nft":%s,"haproxy":null,"vs_nft":%s,"vs_haproxy":null,"target_vs_nft":5,"target_vs_nft_met":%s,"round_seconds":%s,"rounds":%s,"note":"haproxy terminates TCP: no frame path to compare; live frames (64 B, one TCP flow) counted at the backends; sluice: its XDP on gw-c, the flow established on b1; nft: nothing on gw-c, kernel forwarding with conntrack and the DNAT rule"}\n' \
	"$L_sluice" "$L_nft" "$vl" "$(met "$vl" 5)" "$LIVE_SECONDS" "$LIVE_ROUNDS" >&3
fi
