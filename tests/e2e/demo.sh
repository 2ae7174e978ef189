#!/usr/bin/env bash
# make demo: sluice end to end in a throw-away lab, in about a minute.
# Builds the lab (client, gateway, three nginx backends, each in its own
# network namespace), starts sluiced on the gateway with
# packaging/sluice.conf.example, sends real TCP connections to the VIP and
# shows where they went; then, under steady client load, kills one
# backend's server: the breaker trips (live from `sluice monitor`), traffic
# moves to the others (`sluice stats -w`), the server comes back and the
# breaker recovers through half-open. A summary with numbers (connections
# made and failed, detection time), and the lab is removed: nothing is left
# behind.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"

N=${DEMO_CONNECTIONS:-90}
RATE=${DEMO_RATE:-100}
SLUICE=$LAB_BUILD/sluice
EXAMPLE=$LAB_TOP/packaging/sluice.conf.example

if [ -t 1 ]; then B=$'\033[1m' N0=$'\033[0m'; else B='' N0=''; fi
say()  { printf '\n%s==> %s%s\n' "$B" "$*" "$N0"; }
info() { printf '    %s\n' "$*"; }
die()  { printf '\ndemo: %s\n' "$*" >&2; lab_dump_logs >&2; exit 1; }
# Indented, and not in a pipeline: lab_check_burst must run in this shell
# (it hands out source ports, which a subshell would hand out again).
show() {
	local rc
	"$@" >"$LAB_DIR/show.out"
	rc=$?
	sed 's/^  //; s/^/    /' "$LAB_DIR/show.out"
	return $rc
}

[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, XDP)" >&2; exit 1; }
[ -x "$LAB_SLUICED" ] || { echo "demo: $LAB_SLUICED not built: run 'make demo' (it builds first)" >&2; exit 1; }
for t in slconn slpredict slstat sldrill; do
	[ -x "$LAB_TOOLS/$t" ] || { echo "demo: $LAB_TOOLS/$t not built: run 'make demo'" >&2; exit 1; }
done
trap lab_down EXIT
lab_trap_signals

say "Building the lab (namespaces prefixed $LAB_PREFIX)"
lab_up 2>/dev/null || die "could not build the lab (run with the same user as 'make check': root)"
info "client   $(lab_ns c):  $LAB_CLIENT4, $LAB_CLIENT6"
info "gateway  $(lab_ns gw): gw-c towards the client, gw-b1..gw-b3 towards the backends"
for i in 1 2 3; do
	info "backend  $(lab_ns b$i): ${LAB_BK4[i]}, ${LAB_BK6[i]}  (nginx answering \"b$i\")"
done
info "VIP (on no interface): $LAB_VIP4:$LAB_PORT"

conf=$LAB_DIR/sluice.conf
# the example, with this lab's pin root and run directory
sed -e "s|^pin_root = .*|pin_root = \"$LAB_PIN_ROOT\";|" -e '/^run_dir = /d' "$EXAMPLE" >"$conf" &&
	printf 'run_dir = "%s";\n' "$LAB_RUN_DIR" >>"$conf" || die "could not write the config"
grep -q '^pin_root' "$conf" || printf 'pin_root = "%s";\n' "$LAB_PIN_ROOT" >>"$conf"
say "Starting sluiced on the gateway with packaging/sluice.conf.example"
grep -v '^\s*#' "$conf" | grep -v '^\s*$' | sed 's/ *#.*//; s/^/    | /'
lab_start_sluiced "$conf" || die "sluiced did not start"
info "sluiced is ready; XDP attached: $(for d in gw-c gw-b1 gw-b2 gw-b3; do lab_xdp_attached $d && printf '%s ' $d; done)"
sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }

say "$N new TCP connections (HTTP GET, one per connection) to web at $LAB_VIP4"
info "each from its own source port; slpredict computes, from the config"
info "alone, which backend Maglev must pick for each, and we compare"
show lab_check_burst "$conf" web "$LAB_VIP4" "$N" --check-stats ||
	die "connections did not go as predicted"
info "every connection answered, every one by the predicted backend"
say "Breakers and health checks (sluice breaker show)"
sl breaker show | sed 's/^/    /'

say "A backend dies under load"
info "the client opens $RATE new connections a second for 14 s; sluice monitor"
info "prints every breaker and health transition as it happens"
lab_bg "$LAB_DIR/monitor.out" gw "$SLUICE" -R "$LAB_RUN_DIR" monitor
mon=$LAB_LAST_PID
lab_wait_lines "$LAB_DIR/monitor.out" 'monitoring' 1 50
lab_sports 3000 || die "no source ports"
lab_bg "$LAB_DIR/rate.out" c "$LAB_TOOLS/slconn" rate "$LAB_VIP4" "$LAB_PORT" --seconds 14 \
	--rate "$RATE" --concurrency 500 --timeout-ms 3000 --sport-base "$LAB_SPORT" --sport-count 3000
rate=$LAB_LAST_PID
sleep 2
id2=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk -v a="${LAB_BK4[2]}:$LAB_PORT" '$1 == "backend" && $3 == a { print $2 }')
info "killing b2's nginx ($(date +%T.%3N))"
det=$("$LAB_TOOLS/sldrill" "$LAB_PIN_ROOT" "$id2" 5000 -- kill "$(cat "$LAB_DIR/b2/pid")" | awk '{ print $2 }')
info "b2's breaker tripped and new flows skip it: ${det} ms after the kill"
sleep 1
info "sluice monitor:"
grep " web " "$LAB_DIR/monitor.out" | sed 's/^/      /'
info "sluice stats -w 1 (rates over the last second, b2 gets nothing new):"
sl stats -w 1 -c 2 2>/dev/null | sed 's/^/      /' || sl -s backend list web | sed 's/^/      /'

say "The server comes back"
: >"$LAB_DIR/monitor.mark"
seen=$(wc -l <"$LAB_DIR/monitor.out")
lab_backend_start 2 || die "could not restart b2's nginx"
info "b2's nginx restarted ($(date +%T.%3N)); after its open time the breaker goes"
info "half-open, admits a few trial flows, and closes when they succeed"
lab_wait_gate 2 closed 150 || die "b2's breaker did not close again"
info "sluice monitor:"
tail -n +"$((seen + 1))" "$LAB_DIR/monitor.out" | grep " web " | sed 's/^/      /'
lab_wait_pid "$rate" 300
kill "$mon" 2>/dev/null

say "Summary"
att=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "attempted") print $(i + 1) }' "$LAB_DIR/rate.out")
ok=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "ok") print $(i + 1) }' "$LAB_DIR/rate.out")
failed=$(awk '/^rate:/ { for (i = 1; i < NF; i++) if ($i == "failed") print $(i + 1) }' "$LAB_DIR/rate.out")
info "connections under load: ${att:-?} attempted, ${ok:-?} answered, ${failed:-?} failed"
info "detection: new flows skipped b2 ${det} ms after its server died"
info "per backend, as the client saw it: $(awk '/^backend/ { printf "%s %s  ", $2, $3 }' "$LAB_DIR/rate.out")"
moved=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "backend" { for (i = 4; i < NF; i++) if ($i == "redispatched") n += $(i + 1) } END { print n + 0 }')
info "connects b2's kernel refused before the trip: ${moved}; each was turned into the"
info "client's SYN to another backend in the packet path (redispatch), so no client saw it"

say "sluiced can go away: the program and its maps stay"
lab_stop_sluiced || die "sluiced did not stop cleanly"
info "sluiced stopped; XDP still attached to: $(for d in gw-c gw-b1 gw-b2 gw-b3; do lab_xdp_attached $d && printf '%s ' $d; done)"
show lab_check_burst "$conf" web "$LAB_VIP4" 60 || die "connections failed without sluiced"
info "connections keep being balanced with no daemon running"

say "Detaching and tearing the lab down"
lab_detach "$conf" || die "sluiced --detach failed"
lab_down 2>/dev/null
left=$(ip netns list | grep -c "^$LAB_PREFIX-")
info "namespaces left: $left; pins left: $([ -e "$LAB_PIN_ROOT" ] && echo yes || echo none)"
say "Done"
