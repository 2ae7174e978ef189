# shellcheck shell=bash disable=SC2034  # LAB_* variables are for the scripts that source this
# sluice e2e lab: network namespaces, veths, nginx backends, sluiced.
# Sourced by tests/e2e/test_*.sh, tests/e2e/demo.sh and the benchmarks.
#
#   client (C)            gateway (GW)                backends
#   eth0 198.18.0.2/24 -- gw-c  198.18.0.1/24
#        2001:2:0:1::2/64       2001:2:0:1::1/64
#                          gw-b1 198.19.0.1/32  ------ eth0 198.19.0.11/32   (B1)
#                                2001:2:0:2::1/128          2001:2:0:2::11/128
#                          gw-b2 ...            ------ eth0 198.19.0.12 ...  (B2)
#                          gw-b3 ...            ------ eth0 198.19.0.13 ...  (B3)
#
# Every backend has its own routed veth (XDP cannot redirect into a bridge):
# the gateway has a host route to each backend through its gw-bI, each
# backend a default route to 198.19.0.1 / 2001:2:0:2::1 on-link. The VIPs
# (LAB_VIP4, LAB_VIP6) are on no interface: the client reaches them through
# its default route. The v6 VIP lies inside the client link's /64, so the
# client's v6 address carries no prefix route and everything but the
# gateway's own address goes through the gateway, as in v4.
#
# Only 198.18.0.0/15 and 2001:2::/48 are used; nothing touches the host's
# own interfaces. Names carry a per-run prefix (LAB_PREFIX, default sl<pid>),
# pins live under /sys/fs/bpf/sluice-<prefix>, files in a per-run temp dir,
# so two labs can run at once. Call lab_down from a trap on EXIT: it kills
# what the lab started (by pid), deletes the namespaces, removes the pins
# and the temp dir, and is safe to call twice.
#
# Usage:
#   . tests/e2e/lab.sh
#   lab_require                 # exit 77 (skip) when not root / tools missing
#   trap lab_down EXIT; lab_trap_signals
#   lab_up || lab_fail "lab_up"
#   lab_write_config "$LAB_DIR/sluice.conf" both 1 2 3
#   lab_start_sluiced "$LAB_DIR/sluice.conf" || lab_fail "sluiced did not start"
#   lab_exec c "$LAB_TOOLS/slconn" burst "$LAB_VIP4" 80 --sport-base 20000 --count 10

LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_BUILD=${LAB_BUILD:-$LAB_TOP/build}
LAB_SLUICED=${LAB_SLUICED:-$LAB_BUILD/sluiced}
LAB_SLUICE=${LAB_SLUICE:-$LAB_BUILD/sluice}
LAB_TOOLS=${LAB_TOOLS:-$LAB_BUILD/tests/e2e}

LAB_PREFIX=${LAB_PREFIX:-sl$$}
LAB_NBACKENDS=3
LAB_PIN_ROOT=/sys/fs/bpf/sluice-$LAB_PREFIX
LAB_DIR=                    # per-run temp dir, set by lab_up
LAB_RUN_DIR=                # sluiced's run dir, inside LAB_DIR
LAB_UP=0

LAB_VIP4=198.18.1.100
LAB_VIP6=2001:2:0:1::100
LAB_PORT=80
LAB_CLIENT4=198.18.0.2
LAB_CLIENT6=2001:2:0:1::2
LAB_GWC4=198.18.0.1
LAB_GWC6=2001:2:0:1::1
LAB_GWB4=198.19.0.1
LAB_GWB6=2001:2:0:2::1
LAB_BK4=(- 198.19.0.11 198.19.0.12 198.19.0.13)          # index 1..3
LAB_BK6=(- 2001:2:0:2::11 2001:2:0:2::12 2001:2:0:2::13)

# Source ports handed out by lab_sports: below the client's ephemeral range
# (LAB_EPHEMERAL), so a fixed-port burst never collides with a kernel-chosen
# port, and never reused within one lab (no TIME_WAIT or stale flow entry in
# the way).
LAB_EPHEMERAL="32768 60999"
LAB_SPORT_NEXT=10000
LAB_SPORT_MAX=32767

LAB_SLUICED_PID=
LAB_SLUICED_LOG=

lab_log()  { echo "lab: $*" >&2; }
lab_skip() { echo "SKIP: $*"; exit 77; }

# Print what helps to debug, then exit 1 (lab_down runs from the EXIT trap).
lab_fail() {
	echo "FAIL: $*"
	lab_dump_logs
	exit 1
}

lab_dump_logs() {
	local f
	if [ -n "$LAB_SLUICED_LOG" ] && [ -s "$LAB_SLUICED_LOG" ]; then
		echo "---- sluiced log (last 40 lines of $LAB_SLUICED_LOG)"
		tail -n 40 "$LAB_SLUICED_LOG"
	fi
	[ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ] || return 0
	for f in "$LAB_DIR"/b*/error.log; do
		[ -s "$f" ] || continue
		echo "---- $f (last 10 lines)"
		tail -n 10 "$f"
	done
}

# Exit 77 unless this machine can run the lab.
lab_require() {
	local t
	[ "$(id -u)" = 0 ] || lab_skip "the lab needs root"
	for t in ip nsenter ethtool nginx ss timeout sysctl; do
		command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed (make deps)"
	done
	for t in slconn slpredict slstat; do
		[ -x "$LAB_TOOLS/$t" ] || lab_skip "$LAB_TOOLS/$t not built (make all)"
	done
}

lab_require_sluiced() {
	[ -x "$LAB_SLUICED" ] || lab_skip "$LAB_SLUICED not built (make all)"
}

# Ctrl-C and TERM end the script through its EXIT trap.
lab_trap_signals() {
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

lab_ns() { echo "$LAB_PREFIX-$1"; }

# lab_exec NAME CMD...: run CMD in namespace NAME (c, gw, b1..b3). nsenter,
# not "ip netns exec": that one remounts /sys, and bpffs pins made under it
# vanish with the command.
lab_exec() {
	local ns=$1; shift
	nsenter --net="/run/netns/$LAB_PREFIX-$ns" -- "$@"
}
lab_gw_exec() { lab_exec gw "$@"; }
lab_c_exec()  { lab_exec c "$@"; }

# Remember a process the lab started: "pid starttime", so lab_down never
# signals a recycled pid.
_lab_track() {
	local st
	st=$(_lab_starttime "$1") || return 0
	echo "$1 $st" >>"$LAB_DIR/pids"
}

_lab_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }                       # fields after "(comm) "
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"                            # field 22: starttime
}

# _lab_alive PID STARTTIME
_lab_alive() {
	local st
	st=$(_lab_starttime "$1") || return 1
	[ "$st" = "$2" ] || return 1
	# a zombie is gone for our purposes
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# _lab_kill PID STARTTIME: TERM, wait up to 5 s, then KILL.
_lab_kill() {
	local pid=$1 st=$2 i
	_lab_alive "$pid" "$st" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		_lab_alive "$pid" "$st" || break
		sleep 0.1
	done
	if _lab_alive "$pid" "$st"; then
		lab_log "pid $pid ignored SIGTERM, killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# lab_bg LOGFILE NS CMD...: start CMD in namespace NS in the background,
# output to LOGFILE; its pid in LAB_LAST_PID, tracked for lab_down.
lab_bg() {
	local log=$1 ns=$2; shift 2
	nsenter --net="/run/netns/$LAB_PREFIX-$ns" -- "$@" >"$log" 2>&1 </dev/null &
	LAB_LAST_PID=$!
	_lab_track "$LAB_LAST_PID"
}

# _lab_do CMD...: run, and on failure say what failed.
_lab_do() {
	local out
	if ! out=$("$@" 2>&1); then
		lab_log "failed: $*: $out"
		return 1
	fi
}

# _lab_sysctl NS KEY=VALUE...
_lab_sysctl() {
	local ns=$1; shift
	_lab_do lab_exec "$ns" sysctl -q -w "$@"
}

# The routed veth between the gateway (gw-bI) and backend I (eth0): its
# addresses and host routes, as lab_up builds it; tests that re-create a
# link use it too. Sysctls and offloads are lab_up's (or the test's) job.
lab_backend_link() {
	local i=$1 gw=$LAB_PREFIX-gw b=$LAB_PREFIX-b$1
	_lab_do ip -n "$gw" link add "gw-b$i" type veth peer name eth0 netns "$b" || return 1
	_lab_do ip -n "$gw" addr add "$LAB_GWB4/32" dev "gw-b$i" || return 1
	_lab_do ip -n "$gw" addr add "$LAB_GWB6/128" dev "gw-b$i" nodad || return 1
	_lab_do ip -n "$b" addr add "${LAB_BK4[i]}/32" dev eth0 || return 1
	_lab_do ip -n "$b" addr add "${LAB_BK6[i]}/128" dev eth0 nodad || return 1
	_lab_do ip -n "$gw" link set "gw-b$i" up || return 1
	_lab_do ip -n "$b" link set eth0 up || return 1
	_lab_do ip -n "$gw" route add "${LAB_BK4[i]}/32" dev "gw-b$i" || return 1
	_lab_do ip -n "$gw" -6 route add "${LAB_BK6[i]}/128" dev "gw-b$i" || return 1
	_lab_do ip -n "$b" route add "$LAB_GWB4/32" dev eth0 || return 1
	_lab_do ip -n "$b" route add default via "$LAB_GWB4" dev eth0 onlink || return 1
	_lab_do ip -n "$b" -6 route add "$LAB_GWB6/128" dev eth0 || return 1
	_lab_do ip -n "$b" -6 route add default via "$LAB_GWB6" dev eth0 onlink || return 1
}

lab_up() {
	local ns i
	if ((LAB_UP)); then lab_log "lab_up: already up"; return 1; fi
	case $LAB_PREFIX in
	*[!a-zA-Z0-9]* | "") lab_log "bad LAB_PREFIX '$LAB_PREFIX'"; return 1 ;;
	esac
	for ns in c gw $(seq -f 'b%g' 1 $LAB_NBACKENDS); do
		if [ -e "/run/netns/$LAB_PREFIX-$ns" ]; then
			lab_log "namespace $LAB_PREFIX-$ns already exists: another lab with prefix $LAB_PREFIX?"
			return 1
		fi
	done
	LAB_DIR=$(mktemp -d "/tmp/sluice-lab-$LAB_PREFIX.XXXXXX") || return 1
	LAB_RUN_DIR=$LAB_DIR/run
	mkdir -p "$LAB_RUN_DIR"
	: >"$LAB_DIR/pids"
	LAB_UP=1                                # from here on lab_down has work to do

	for ns in c gw $(seq -f 'b%g' 1 $LAB_NBACKENDS); do
		_lab_do ip netns add "$LAB_PREFIX-$ns" || return 1
		echo "$LAB_PREFIX-$ns" >>"$LAB_DIR/namespaces"
		_lab_do ip -n "$LAB_PREFIX-$ns" link set lo up || return 1
		# Before any interface exists, so every one inherits them.
		_lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 || return 1
	done
	_lab_sysctl gw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	for ns in c gw; do
		_lab_sysctl "$ns" net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=$LAB_EPHEMERAL" || return 1
	done

	local gw=$LAB_PREFIX-gw c=$LAB_PREFIX-c
	# Client link.
	_lab_do ip -n "$gw" link add gw-c type veth peer name eth0 netns "$c" || return 1
	_lab_do ip -n "$gw" addr add "$LAB_GWC4/24" dev gw-c || return 1
	_lab_do ip -n "$gw" addr add "$LAB_GWC6/64" dev gw-c nodad || return 1
	_lab_do ip -n "$c" addr add "$LAB_CLIENT4/24" dev eth0 || return 1
	_lab_do ip -n "$c" addr add "$LAB_CLIENT6/64" dev eth0 nodad noprefixroute || return 1
	_lab_do ip -n "$gw" link set gw-c up || return 1
	_lab_do ip -n "$c" link set eth0 up || return 1
	_lab_do ip -n "$c" route add default via "$LAB_GWC4" || return 1
	_lab_do ip -n "$c" -6 route add "$LAB_GWC6/128" dev eth0 || return 1
	_lab_do ip -n "$c" -6 route add default via "$LAB_GWC6" dev eth0 || return 1

	# Backend links.
	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		lab_backend_link "$i" || return 1
	done

	# rp_filter uses max(all, dev): make every interface 0 explicitly.
	# GRO on every veth end: a frame XDP-redirected into a veth is dropped
	# silently unless its peer has GRO (or an XDP program). Client and
	# backends send full TCP checksums (tx checksum offload off), as frames
	# from a wire carry: with offload on, a veth hands XDP a frame whose
	# checksum is only the pseudo-header's (CHECKSUM_PARTIAL), and once
	# redirected nobody completes it, so the receiver drops it (seen here
	# with a minimal DNAT-and-redirect program: every connection timed out).
	for ns in c gw $(seq -f 'b%g' 1 $LAB_NBACKENDS); do
		local devs
		if [ "$ns" = gw ]; then
			devs="gw-c $(seq -f 'gw-b%g' 1 $LAB_NBACKENDS)"
		else
			devs=eth0
		fi
		for dev in $devs; do
			_lab_sysctl "$ns" "net.ipv4.conf.$dev.rp_filter=0" || return 1
			_lab_do lab_exec "$ns" ethtool -K "$dev" gro on || return 1
			[ "$ns" = gw ] || _lab_do lab_exec "$ns" ethtool -K "$dev" tx off || return 1
		done
	done

	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		_lab_start_nginx "$i" || return 1
	done
	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		_lab_wait_nginx "$i" || return 1
	done

	# Prove the kernel path end to end (client -> gateway -> each backend,
	# both families) and leave every neighbour resolved.
	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		_lab_http_get "${LAB_BK4[i]}" "b$i" || return 1
		_lab_http_get "${LAB_BK6[i]}" "b$i" || return 1
	done
	lab_log "up: prefix $LAB_PREFIX, dir $LAB_DIR"
}

# _lab_http_get ADDR WANT: one HTTP request from the client, answer must
# be WANT. Plain bash (/dev/tcp): needs none of the lab's tools.
_lab_http_get() {
	local out
	# shellcheck disable=SC2016  # $1, $2: the inner bash's
	out=$(timeout 5 nsenter --net="/run/netns/$LAB_PREFIX-c" -- bash -c \
		'exec 3<>"/dev/tcp/$1/$2" && printf "GET / HTTP/1.0\r\nHost: x\r\n\r\n" >&3 && cat <&3' \
		_ "$1" "$LAB_PORT" 2>&1)
	if [ "$(printf '%s\n' "$out" | tail -n 1)" != "$2" ]; then
		lab_log "client -> $1:$LAB_PORT: expected '$2', got: $out"
		return 1
	fi
}

_lab_start_nginx() {
	local i=$1 dir=$LAB_DIR/b$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
# backend b$i of lab $LAB_PREFIX
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 32768;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_timeout 300s;
	keepalive_requests 1000000;
	default_type text/plain;
	server {
		listen 80 backlog=4096;
		listen [::]:80 ipv6only=on backlog=4096;
		location / { return 200 "b$i\n"; }
	}
}
EOF
	lab_bg "$dir/nginx.out" "b$i" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
	echo "$LAB_LAST_PID" >"$dir/pid"
}

# lab_backend_stop I: kill backend I's nginx (its server is gone: connects
# are refused by the backend's kernel). lab_backend_start I: start it again
# and wait until it listens.
lab_backend_stop() {
	local pid
	pid=$(cat "$LAB_DIR/b$1/pid") || return 1
	kill "$pid" 2>/dev/null
	lab_wait_pid "$pid" 100
	return 0
}
lab_backend_start() {
	_lab_start_nginx "$1" && _lab_wait_nginx "$1"
}

# lab_blackhole I on|off: drop every packet backend I receives or sends,
# inside its namespace (nftables), or stop doing so.
lab_blackhole() {
	if [ "$2" = on ]; then
		lab_exec "b$1" nft -f - <<'EOF'
table inet sl_blackhole {
	chain in { type filter hook input priority -300; policy drop; }
	chain out { type filter hook output priority -300; policy drop; }
}
EOF
	else
		lab_exec "b$1" nft delete table inet sl_blackhole
	fi
}

# lab_syn_retrans: SYNs the client's kernel has retransmitted so far
# (TcpExtTCPSynRetrans in namespace c).
lab_syn_retrans() { lab_exec c nstat -az TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" { print $2 }'; }

# lab_slow I MS | lab_slow I off: hold backend I's SYN-ACKs for MS ms in
# its namespace (an NFQUEUE rule and build/tests/e2e/sldelay; the lab has
# no netem), or stop doing so.
lab_slow() {
	local i=$1 out=$LAB_DIR/sldelay.$1 pidf=$LAB_DIR/sldelay.$1.pid
	if [ "$2" = off ]; then
		lab_exec "b$i" iptables -D OUTPUT -p tcp --sport "$LAB_PORT" --tcp-flags SYN,ACK SYN,ACK \
			-j NFQUEUE --queue-num 0 2>/dev/null
		[ -s "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null && lab_wait_pid "$(cat "$pidf")" 50
		rm -f "$pidf"
		return 0
	fi
	lab_bg "$out" "b$i" "$LAB_TOOLS/sldelay" 0 "$2"
	echo "$LAB_LAST_PID" >"$pidf"
	lab_wait_lines "$out" '^sldelay: queue' 1 50 || { lab_log "sldelay did not start: $(cat "$out")"; return 1; }
	lab_exec "b$i" iptables -A OUTPUT -p tcp --sport "$LAB_PORT" --tcp-flags SYN,ACK SYN,ACK \
		-j NFQUEUE --queue-num 0
}

# lab_gate I: the breaker gate backend I's (IPv4) slot shows in slstat.
lab_gate() {
	"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v a="${LAB_BK4[$1]}:$LAB_PORT" \
		'$1 == "backend" && $3 == a { for (i = 4; i < NF; i++) if ($i == "gate") { print $(i + 1); exit } }'
}

# lab_bk_field I FIELD: a counter of backend I's (IPv4) slstat line.
lab_bk_field() {
	"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v a="${LAB_BK4[$1]}:$LAB_PORT" -v f="$2" \
		'$1 == "backend" && $3 == a { for (i = 4; i < NF; i++) if ($i == f) { print $(i + 1); exit } }'
}

# lab_wait_gate I STATE [TRIES]: until backend I's gate is STATE (0.1 s a try, default 100).
lab_wait_gate() {
	local k
	for ((k = 0; k < ${3:-100}; k++)); do
		[ "$(lab_gate "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	lab_log "backend b$1: gate $(lab_gate "$1"), expected $2"
	return 1
}

# Both listeners up (bounded: 10 s).
_lab_wait_nginx() {
	local i=$1 n k pid
	pid=$(cat "$LAB_DIR/b$i/pid")
	for ((k = 0; k < 100; k++)); do
		n=$(lab_exec "b$i" ss -Hltn 'sport = :80' | wc -l)
		[ "$n" -ge 2 ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			lab_log "nginx of b$i exited:"; cat "$LAB_DIR/b$i/nginx.out" "$LAB_DIR/b$i/error.log" >&2
			return 1
		fi
		sleep 0.1
	done
	lab_log "nginx of b$i not listening after 10 s"
	return 1
}

lab_down() {
	local pid st ns i left san=
	((LAB_UP)) || return 0
	LAB_UP=0
	if [ -n "$LAB_SLUICED_PID" ]; then
		_lab_kill "$LAB_SLUICED_PID" "$LAB_SLUICED_ST"
		LAB_SLUICED_PID=
	fi
	# A sanitizer build (make asan) reports on stderr, into the log, unless
	# ASAN_OPTIONS has a log_path (tests/run.sh): either way a report fails.
	if [ -n "$LAB_SLUICED_LOG" ] && [ -f "$LAB_SLUICED_LOG" ]; then
		san=$(grep -m 5 -n -e 'ERROR: AddressSanitizer' -e 'LeakSanitizer' -e 'runtime error:' "$LAB_SLUICED_LOG")
		[ -z "$san" ] || tail -n 60 "$LAB_SLUICED_LOG"
	fi
	if [ -f "$LAB_DIR/pids" ]; then
		while read -r pid st; do
			_lab_kill "$pid" "$st"
		done <"$LAB_DIR/pids"
	fi
	if [ -f "$LAB_DIR/namespaces" ]; then
		while read -r ns; do
			# Anything still inside one of our namespaces was started there
			# by this lab (a tool run in the foreground by a test that was
			# interrupted): end it by pid, or the namespace outlives us.
			for ((i = 0; i < 3; i++)); do
				left=$(ip netns pids "$ns" 2>/dev/null) || break
				[ -n "$left" ] || break
				lab_log "processes left in $ns: ${left//$'\n'/ }; ending them"
				# shellcheck disable=SC2086
				kill -TERM $left 2>/dev/null
				sleep 0.5
				# shellcheck disable=SC2086
				((i == 1)) && kill -KILL $left 2>/dev/null
			done
			ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
		done <"$LAB_DIR/namespaces"
	fi
	case $LAB_PIN_ROOT in
	/sys/fs/bpf/sluice-?*) rm -rf -- "$LAB_PIN_ROOT" ;;
	esac
	case $LAB_DIR in
	/tmp/sluice-lab-?*)
		if [ -n "${LAB_KEEP:-}" ]; then
			lab_log "kept $LAB_DIR (LAB_KEEP)"
		else
			rm -rf -- "$LAB_DIR"
		fi ;;
	esac
	lab_log "down: prefix $LAB_PREFIX"
	if [ -n "$san" ]; then
		echo "FAIL: sanitizer report in sluiced's log:"
		echo "$san"
		exit 1
	fi
}

# lab_sports N: reserve N consecutive source ports never used before in this
# lab; the first in LAB_SPORT.
lab_sports() {
	local n=$1
	if ((LAB_SPORT_NEXT + n - 1 > LAB_SPORT_MAX)); then
		lab_log "out of source ports"
		return 1
	fi
	LAB_SPORT=$LAB_SPORT_NEXT
	LAB_SPORT_NEXT=$((LAB_SPORT_NEXT + n))
}

# lab_backend_name ADDR: b1..b3 for a backend address, or the address.
lab_backend_name() {
	local i
	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		if [ "$1" = "${LAB_BK4[i]}" ] || [ "$1" = "${LAB_BK6[i]}" ]; then
			echo "b$i"
			return 0
		fi
	done
	echo "$1"
}

# lab_write_config FILE [v4|v6|both] [BACKEND...]: a sluice config for this
# lab: service "web" (v4 VIP) and/or "web6" (v6 VIP), port 80, with the
# backends given by number (1..3, default all) at weight 1. Extra settings:
# LAB_TOP_EXTRA (top-level lines), LAB_SVC_EXTRA (inside each service),
# LAB_BK_EXTRA[I] (inside backend I's group), LAB_CONN_TABLE (entries).
lab_write_config() {
	local file=$1 fam=${2:-both} i sep
	shift 2 2>/dev/null || shift $#
	local bks=("$@")
	((${#bks[@]})) || mapfile -t bks < <(seq 1 $LAB_NBACKENDS)
	for i in "${bks[@]}"; do
		case $i in
		[1-9]) ((i <= LAB_NBACKENDS)) || { lab_log "no backend $i"; return 1; } ;;
		*) lab_log "backend '$i': give a number 1..$LAB_NBACKENDS"; return 1 ;;
		esac
	done
	case $fam in v4 | v6 | both) ;; *) lab_log "family '$fam': v4, v6 or both"; return 1 ;; esac
	{
		echo "# sluice config for lab $LAB_PREFIX ($fam, backends ${bks[*]})"
		printf 'interfaces = ( "gw-c"'
		for ((i = 1; i <= LAB_NBACKENDS; i++)); do printf ', "gw-b%d"' "$i"; done
		printf ' );\n'
		echo "pin_root = \"$LAB_PIN_ROOT\";"
		echo "run_dir = \"$LAB_RUN_DIR\";"
		echo "conn_table_size = ${LAB_CONN_TABLE:-65536};"
		[ -n "${LAB_TOP_EXTRA:-}" ] && echo "$LAB_TOP_EXTRA"
		echo "services = ("
		sep=
		if [ "$fam" != v6 ]; then
			_lab_config_service web "$LAB_VIP4" LAB_BK4 "${bks[@]}"
			sep=,
		fi
		if [ "$fam" != v4 ]; then
			[ -n "$sep" ] && echo "  ,"
			_lab_config_service web6 "$LAB_VIP6" LAB_BK6 "${bks[@]}"
		fi
		echo ");"
	} >"$file.tmp" && mv -f "$file.tmp" "$file"
}

# _lab_config_service NAME VIP ADDR_ARRAY_NAME BACKEND...
_lab_config_service() {
	local name=$1 vip=$2 arr=$3 i n=0
	shift 3
	local -n addrs=$arr
	echo "  { name = \"$name\"; vip = \"$vip\"; port = $LAB_PORT; proto = \"tcp\";"
	[ -n "${LAB_SVC_EXTRA:-}" ] && echo "    $LAB_SVC_EXTRA"
	echo "    backends = ("
	for i in "$@"; do
		n=$((n + 1))
		printf '      { addr = "%s"; port = %d; weight = 1; %s}%s\n' "${addrs[i]}" "$LAB_PORT" \
			"${LAB_BK_EXTRA[i]:-}" "$( ((n < $#)) && echo ,)"
	done
	echo "    ); }"
}

# lab_start_sluiced CONFIG [ARGS...]: sluiced in the gateway namespace, in
# the background, stderr to LAB_SLUICED_LOG (appended: one log per lab);
# returns once it printed "sluiced: ready" (bounded: 30 s), 1 if it exited
# or never got ready.
lab_start_sluiced() {
	local conf=$1 k before; shift
	if [ -n "$LAB_SLUICED_PID" ] && _lab_alive "$LAB_SLUICED_PID" "$LAB_SLUICED_ST"; then
		lab_log "sluiced already running (pid $LAB_SLUICED_PID)"
		return 1
	fi
	LAB_SLUICED_LOG=$LAB_DIR/sluiced.log
	touch "$LAB_SLUICED_LOG"
	before=$(grep -c 'sluiced: ready' "$LAB_SLUICED_LOG")
	echo "==== lab: start: sluiced --config $conf $*" >>"$LAB_SLUICED_LOG"
	nsenter --net="/run/netns/$LAB_PREFIX-gw" -- "$LAB_SLUICED" --config "$conf" "$@" \
		>>"$LAB_SLUICED_LOG" 2>&1 </dev/null &
	LAB_SLUICED_PID=$!
	LAB_SLUICED_ST=$(_lab_starttime "$LAB_SLUICED_PID")
	for ((k = 0; k < 300; k++)); do
		if [ "$(grep -c 'sluiced: ready' "$LAB_SLUICED_LOG")" -gt "$before" ]; then
			return 0
		fi
		if ! _lab_alive "$LAB_SLUICED_PID" "$LAB_SLUICED_ST"; then
			wait "$LAB_SLUICED_PID"
			lab_log "sluiced exited with status $? before it was ready"
			LAB_SLUICED_PID=
			return 1
		fi
		sleep 0.1
	done
	lab_log "sluiced not ready after 30 s"
	return 1
}

# lab_stop_sluiced: SIGTERM and wait (bounded: 10 s, then SIGKILL and
# failure). Returns sluiced's exit status.
lab_stop_sluiced() {
	local k pid=$LAB_SLUICED_PID rc
	[ -n "$pid" ] || { lab_log "sluiced is not running"; return 1; }
	kill -TERM "$pid" 2>/dev/null
	for ((k = 0; k < 100; k++)); do
		_lab_alive "$pid" "$LAB_SLUICED_ST" || break
		sleep 0.1
	done
	if _lab_alive "$pid" "$LAB_SLUICED_ST"; then
		lab_log "sluiced still running 10 s after SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		LAB_SLUICED_PID=
		return 1
	fi
	wait "$pid"
	rc=$?
	LAB_SLUICED_PID=
	return $rc
}

# lab_reload_sluiced: SIGHUP, then wait for one more "sluiced: config
# applied" line (bounded: 20 s). 1 if it did not come.
lab_reload_sluiced() {
	local before k
	[ -n "$LAB_SLUICED_PID" ] || { lab_log "sluiced is not running"; return 1; }
	before=$(grep -c 'sluiced: config applied' "$LAB_SLUICED_LOG")
	kill -HUP "$LAB_SLUICED_PID" || return 1
	for ((k = 0; k < 200; k++)); do
		[ "$(grep -c 'sluiced: config applied' "$LAB_SLUICED_LOG")" -gt "$before" ] && return 0
		_lab_alive "$LAB_SLUICED_PID" "$LAB_SLUICED_ST" || { lab_log "sluiced died on SIGHUP"; return 1; }
		sleep 0.1
	done
	lab_log "no 'sluiced: config applied' within 20 s of SIGHUP"
	return 1
}

# lab_detach CONFIG: the one-shot teardown, in the gateway namespace.
lab_detach() {
	LAB_SLUICED_LOG=${LAB_SLUICED_LOG:-$LAB_DIR/sluiced.log}
	echo "==== lab: sluiced --config $1 --detach" >>"$LAB_SLUICED_LOG"
	timeout 30 nsenter --net="/run/netns/$LAB_PREFIX-gw" -- "$LAB_SLUICED" --config "$1" --detach \
		>>"$LAB_SLUICED_LOG" 2>&1 </dev/null
}

# lab_xdp_attached DEV: is an XDP program attached to DEV in the gateway?
lab_xdp_attached() {
	lab_gw_exec ip -d link show dev "$1" 2>/dev/null | grep -qw 'prog/xdp'
}

# lab_wait_lines FILE PATTERN COUNT TRIES: wait until FILE has COUNT lines
# matching PATTERN, polling every 0.1 s at most TRIES times.
lab_wait_lines() {
	local f=$1 pat=$2 want=$3 tries=$4 k
	for ((k = 0; k < tries; k++)); do
		[ "$(grep -c -- "$pat" "$f" 2>/dev/null)" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# lab_spread FILE: "b1 N b2 N b3 N" from slconn "SPORT BODY" lines.
lab_spread() {
	awk '$2 != "FAIL" { n[$2]++ } END { for (b in n) printf "%s %d\n", b, n[b] }' "$1" | sort | tr '\n' ' '
}

# lab_name_map: "ADDR=bI ..." for awk.
_lab_name_map() {
	local i
	for ((i = 1; i <= LAB_NBACKENDS; i++)); do
		printf '%s=b%d %s=b%d ' "${LAB_BK4[i]}" "$i" "${LAB_BK6[i]}" "$i"
	done
}

# lab_new_flows v4|v6: "b1 N b2 N b3 N": each lab backend's new_flows as
# slstat reads them from the pins (backends without a slot: 0).
lab_new_flows() {
	local fam=$1 out
	out=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT") || return 1
	printf '%s\n' "$out" | awk -v map="$(_lab_name_map)" -v fam="$fam" -v nb="$LAB_NBACKENDS" '
		BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); name[kv[1]] = kv[2] } }
		$1 == "backend" {
			a = $3
			if (a ~ /^\[/) { v = "v6"; sub(/^\[/, "", a); sub(/\]:[0-9]+$/, "", a) }
			else { v = "v4"; sub(/:[0-9]+$/, "", a) }
			if (v == fam && (a in name)) nf[name[a]] += $9
		}
		END { for (i = 1; i <= nb; i++) printf "b%d %d ", i, nf["b" i] + 0 }'
}

# lab_check_burst CONFIG SERVICE VIP N [OPTIONS]: N new connections from the
# client (fresh source ports, see lab_sports) to VIP:LAB_PORT. Fails unless
# every one succeeds and lands on the backend slpredict names for SERVICE
# in CONFIG, and, with --check-stats, unless each backend's new_flows grew
# by exactly the connections it got. --exclude bI: fails if any landed on bI.
# --sport-base P: reuse the source ports P.. of an earlier burst (their
# connections are closed) instead of fresh ones. Prints a summary; leaves
# the spread in LAB_SPREAD and the first source port in LAB_BURST_BASE.
# Runs in the caller's shell, never in a pipeline: it hands out ports.
lab_check_burst() {
	local conf=$1 svc=$2 vip=$3 n=$4 stats=0 exclude='' base='' fam src
	shift 4
	while (($#)); do
		case $1 in
		--check-stats) stats=1 ;;
		--exclude) exclude=$2; shift ;;
		--sport-base) base=$2; shift ;;
		*) lab_log "lab_check_burst: unknown option $1"; return 1 ;;
		esac
		shift
	done
	case $vip in *:*) fam=v6 src=$LAB_CLIENT6 ;; *) fam=v4 src=$LAB_CLIENT4 ;; esac
	if [ -z "$base" ]; then
		lab_sports "$n" || return 1
		base=$LAB_SPORT
	fi
	LAB_BURST_BASE=$base
	LAB_BURST_SEQ=$((${LAB_BURST_SEQ:-0} + 1))
	local last=$((base + n - 1))
	local got=$LAB_DIR/burst.$LAB_BURST_SEQ.got want=$LAB_DIR/burst.$LAB_BURST_SEQ.want before after rc bad
	if ((stats)); then before=$(lab_new_flows "$fam") || return 1; fi
	timeout 120 nsenter --net="/run/netns/$LAB_PREFIX-c" -- \
		"$LAB_TOOLS/slconn" burst "$vip" "$LAB_PORT" --sport-base "$base" --count "$n" --max-fail 5 \
		>"$got" 2>"$got.err"
	rc=$?
	if ! "$LAB_TOOLS/slpredict" "$conf" "$svc" "$src" "$base-$last" >"$want" 2>"$want.err"; then
		lab_log "slpredict failed: $(cat "$want.err")"
		return 1
	fi
	LAB_SPREAD=$(lab_spread "$got")
	# Compare line by line: "SPORT bI" from both sides.
	bad=$(awk -v map="$(_lab_name_map)" -v excl="$exclude" -v n="$n" '
		BEGIN { k = split(map, m, " "); for (i = 1; i <= k; i++) { split(m[i], kv, "="); name[kv[1]] = kv[2] } }
		FNR == NR { want[$1] = ($2 in name) ? name[$2] : $2; next }
		{ seen++
		  if ($2 == "FAIL") { fail++; if (shown++ < 5) print "  sport " $1 ": " $0; next }
		  if (want[$1] != $2) { mis++; if (shown++ < 5) print "  sport " $1 ": got " $2 ", predicted " want[$1] }
		  if (excl != "" && $2 == excl) { ex++; if (shown++ < 5) print "  sport " $1 ": landed on removed backend " excl } }
		END { if (seen != n) print "  " seen + 0 " result lines for " n " connections"
		      if (fail + mis + ex) printf "  %d failed, %d not as predicted, %d on %s\n", fail, mis, ex, excl == "" ? "-" : excl }
	' "$want" "$got") || bad="  cannot compare $got with $want"
	echo "  $fam $vip: $n connections, slconn exit $rc; spread: $LAB_SPREAD"
	if [ -n "$bad" ] || [ "$rc" != 0 ]; then
		echo "$bad"
		[ -s "$got.err" ] && sed 's/^/  slconn: /' "$got.err"
		return 1
	fi
	if ((stats)); then
		after=$(lab_new_flows "$fam") || return 1
		bad=$(awk -v b="$before" -v a="$after" -v s="$LAB_SPREAD" '
			BEGIN { nb = split(b, B, " "); split(a, A, " "); ns = split(s, S, " ")
				for (i = 1; i < ns; i += 2) got[S[i]] = S[i + 1]
				for (i = 1; i < nb; i += 2) {
					d = A[i + 1] - B[i + 1]
					if (d != got[B[i]] + 0) printf "  %s: new_flows grew by %d, the client made %d connections to it\n", B[i], d, got[B[i]] + 0
				} }') || bad="  cannot compare counters"
		echo "  sluice new_flows before: $before; after: $after"
		if [ -n "$bad" ]; then
			echo "$bad"
			return 1
		fi
	fi
}

# lab_wait_pid PID TRIES: wait (polling every 0.1 s, at most TRIES times)
# for a background child to exit; its exit status, or 124 if it did not.
lab_wait_pid() {
	local pid=$1 tries=$2 k
	for ((k = 0; k < tries; k++)); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie child still answers kill -0
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if ((k == tries)); then return 124; fi
	wait "$pid"
}

# lab_hold_start NAME VIP SECONDS [SPORT]: a keep-alive "slconn hold" from
# the client in the background (a request every 50 ms until NAME's stop
# file appears or SECONDS pass), from SPORT if given. Waits for its first
# answer; its backend is in LAB_HOLD_BACKEND, its pid in
# LAB_HOLD_PID_<NAME>. 1 if it did not start.
lab_hold_start() {
	local name=$1 vip=$2 secs=$3 out=$LAB_DIR/hold.$1
	rm -f "$out.stop"
	lab_bg "$out" c "$LAB_TOOLS/slconn" hold "$vip" "$LAB_PORT" --seconds "$secs" \
		--interval-ms 50 --stop-file "$out.stop" --verbose ${4:+--sport "$4"}
	printf -v "LAB_HOLD_PID_$name" %s "$LAB_LAST_PID"
	if ! lab_wait_lines "$out" '^hold: sport' 1 100; then
		lab_log "hold $name: no answer within 10 s:"; cat "$out" >&2
		return 1
	fi
	LAB_HOLD_BACKEND=$(awk '/^hold: sport/ { print $5; exit }' "$out")
}

# lab_hold_requests NAME: requests answered so far.
lab_hold_requests() { grep -c '^req ' "$LAB_DIR/hold.$1"; }

# lab_hold_advance NAME N: wait until the hold made N more requests than
# now (bounded: 0.2 s per request); 1 if it did not (or it failed).
lab_hold_advance() {
	local name=$1 want
	want=$(($(lab_hold_requests "$name") + $2))
	lab_wait_lines "$LAB_DIR/hold.$name" '^req ' "$want" $(($2 * 2 + 20))
}

# lab_hold_stop NAME BACKEND: end the hold; 1 unless it exited 0 with no
# failure, always on BACKEND. Prints its summary.
lab_hold_stop() {
	local name=$1 want=$2 out=$LAB_DIR/hold.$1 pidvar rc
	pidvar=LAB_HOLD_PID_$name
	touch "$out.stop"
	lab_wait_pid "${!pidvar}" 100
	rc=$?
	echo "  hold $name: $(grep '^hold: backend' "$out" | tail -n 1) (exit $rc)"
	if [ "$rc" != 0 ] || grep -q FAIL "$out"; then
		grep '^hold:' "$out" | sed 's/^/  /'
		return 1
	fi
	if grep '^req ' "$out" | grep -vq " $want\$"; then
		lab_log "hold $name: answers from a backend other than $want"
		return 1
	fi
}

# lab_sport_for CONFIG SERVICE BACKEND: a fresh source port (lab_sports)
# whose flow to SERVICE's VIP (a lab_write_config service: web or web6)
# Maglev sends to BACKEND (bI); in LAB_SPORT.
lab_sport_for() {
	local conf=$1 svc=$2 want=$3 src i base
	case $svc in web6) src=$LAB_CLIENT6 ;; *) src=$LAB_CLIENT4 ;; esac
	i=${want#b}
	lab_sports 64 || return 1
	base=$LAB_SPORT
	LAB_SPORT=$("$LAB_TOOLS/slpredict" "$conf" "$svc" "$src" "$base-$((base + 63))" |
		awk -v a4="${LAB_BK4[i]}" -v a6="${LAB_BK6[i]}" '$2 == a4 || $2 == a6 { print $1; exit }')
	[ -n "$LAB_SPORT" ] || { lab_log "no port in $base..$((base + 63)) goes to $want"; return 1; }
}
