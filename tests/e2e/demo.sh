#!/usr/bin/env bash
# make demo: sluice end to end in a throw-away lab. Builds the lab (client,
# gateway, three nginx backends, each in its own network namespace), starts
# sluiced on the gateway, sends real TCP connections to the IPv4 and IPv6
# VIPs, and shows where they went: as the client saw it and as the XDP
# program counted it. Leaves nothing behind.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"

N=${DEMO_CONNECTIONS:-150}

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
for t in slconn slpredict slstat; do
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
info "VIPs (on no interface): $LAB_VIP4:$LAB_PORT and [$LAB_VIP6]:$LAB_PORT"

conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || die "could not write the config"
say "Starting sluiced on the gateway with this config"
sed 's/^/    | /' "$conf"
lab_start_sluiced "$conf" || die "sluiced did not start"
info "sluiced is ready; XDP attached: $(for d in gw-c gw-b1 gw-b2 gw-b3; do lab_xdp_attached $d && printf '%s ' $d; done)"

for fam in v4 v6; do
	if [ $fam = v4 ]; then svc=web vip=$LAB_VIP4; else svc=web6 vip=$LAB_VIP6; fi
	say "$N new TCP connections (HTTP GET, one per connection) to $svc at $vip"
	info "each from its own source port; slpredict computes, from the config"
	info "alone, which backend Maglev must pick for each, and we compare"
	show lab_check_burst "$conf" "$svc" "$vip" "$N" --check-stats ||
		die "$fam connections did not go as predicted"
	info "every connection answered, every one by the predicted backend"
done

say "What the XDP program counted (slstat $LAB_PIN_ROOT)"
"$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | grep -v '^reason' | sed 's/^/    /'
say "Packets the program did not forward itself, by reason"
info "(the kernel's own traffic on these links, such as neighbour discovery, is 'not_ours')"
reasons=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | grep '^reason')
printf '%s\n' "${reasons:-(none: every packet so far was ours and forwarded)}" | sed 's/^/    /'

say "A reload while a connection is open"
lab_hold_start demo "$LAB_VIP4" 60 || die "the keep-alive connection did not start"
held=$LAB_HOLD_BACKEND
for gone in 1 2 3; do [ "b$gone" != "$held" ] && break; done
keep=$(for b in 1 2 3; do [ "$b" != "$gone" ] && echo "$b"; done | tr '\n' ' ')
info "a keep-alive HTTP connection to $LAB_VIP4 is talking to $held, a request every 50 ms"
info "now b$gone leaves the config, and sluiced reloads it (SIGHUP)"
# shellcheck disable=SC2086
lab_write_config "$conf" both $keep || die "could not write the config"
lab_reload_sluiced || die "sluiced did not apply the new config"
lab_hold_advance demo 20 || die "the keep-alive connection stalled"
info "sluiced: $(grep 'config applied' "$LAB_SLUICED_LOG" | tail -n 1 | sed 's/^<[0-9]>sluiced: //')"
show lab_check_burst "$conf" web "$LAB_VIP4" 60 --exclude "b$gone" ||
	die "new connections did not follow the new config"
info "new connections avoid b$gone and follow Maglev over the two that are left"
show lab_hold_stop demo "$held" || die "the keep-alive connection broke"
info "the open connection never failed and never left $held"

say "sluiced can go away: the program and its maps stay"
lab_stop_sluiced || die "sluiced did not stop cleanly"
info "sluiced stopped; XDP still attached to: $(for d in gw-c gw-b1 gw-b2 gw-b3; do lab_xdp_attached $d && printf '%s ' $d; done)"
show lab_check_burst "$conf" web6 "$LAB_VIP6" 60 || die "connections failed without sluiced"
info "connections keep being balanced with no daemon running"

say "Detaching and tearing the lab down"
lab_detach "$conf" || die "sluiced --detach failed"
lab_down 2>/dev/null
left=$(ip netns list | grep -c "^$LAB_PREFIX-")
info "namespaces left: $left; pins left: $([ -e "$LAB_PIN_ROOT" ] && echo yes || echo none)"
say "Done"
