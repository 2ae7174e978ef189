#!/usr/bin/env bash
# /metrics in the lab. sluiced serves it on 127.0.0.1:9469 inside the
# gateway's namespace (private to the lab); curl scrapes it from there.
#  - a real scrape passes `promtool check metrics` (format and lint), has
#    HELP and TYPE for every family, every drop/pass reason of
#    include/sluice/reasons.h with its verdict, both services' backends
#    (IPv6 ones as [ADDR]:PORT) and build_info;
#  - a burst of N connections moves new_flows by exactly N (the service's
#    and the sum of its backends'), packets and bytes with them;
#  - seven held connections: the active gauges say 7 (service and the sum
#    of backends);
#  - b2's server is killed (TCP check, fall 2): b2's breaker_state is 1 for
#    "open" and 0 for "closed" and every other state, trips_total counts
#    the trip, health_state says "down";
#  - a reload that moves metrics_listen closes the old listener and opens
#    the new one; "off" closes it; a bad value is a FILE:LINE error.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
command -v promtool >/dev/null 2>&1 ||
	lab_skip "promtool not installed: it comes with Debian's prometheus package (make deps installs it)"
command -v curl >/dev/null 2>&1 || lab_skip "curl not installed (make deps)"
trap lab_down EXIT
lab_trap_signals

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
URL=http://127.0.0.1:9469/metrics
brk='breaker = { consecutive_failures = 3; open_ms = 60000; open_max_ms = 60000; half_open_trials = 3; };'
check='check = { type = "tcp"; interval_ms = 200; timeout_ms = 150; rise = 2; fall = 2; };'
LAB_SVC_EXTRA="connect_timeout_ms = 200; max_conns = 1000; $brk $check"
LAB_TOP_EXTRA='metrics_listen = "127.0.0.1:9469";'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"
grep -q "metrics: http://127.0.0.1:9469/metrics" "$LAB_SLUICED_LOG" || lab_fail "no 'metrics:' line in the log"

n_scrape=0
# scrape [URL]: the page into $LAB_DIR/scrape.N, its name in S
scrape() {
	n_scrape=$((n_scrape + 1))
	S=$LAB_DIR/scrape.$n_scrape
	lab_gw_exec curl -sS --fail --max-time 10 -o "$S" "${1:-$URL}"
}
# val FILE SERIES: the value of one exact series ("name{labels}"), empty if absent
val() { awk -v k="$2" '$1 == k { print $2; f = 1; exit } END { if (!f) exit 1 }' "$1"; }
# sum FILE PREFIX: the sum over series starting with PREFIX
sum() { awk -v p="$2" 'index($1, p) == 1 { s += $2 } END { printf "%d\n", s }' "$1"; }
bk() { echo "{service=\"web\",backend=\"${LAB_BK4[$1]}:$LAB_PORT\"${2:+,$2}}"; }

echo "scrape: format, families, labels"
scrape || lab_fail "curl $URL from the gateway namespace"
[ -s "$S" ] || lab_fail "empty scrape"
promtool check metrics <"$S" >"$LAB_DIR/promtool.out" 2>&1 ||
	{ cat "$LAB_DIR/promtool.out"; lab_fail "promtool check metrics"; }
echo "  promtool check metrics: ok ($(wc -l <"$S") lines, $(wc -c <"$S") bytes)"
for f in sluice_build_info:gauge \
	sluice_service_packets_total:counter sluice_service_bytes_total:counter \
	sluice_service_new_flows_total:counter sluice_service_active_connections:gauge \
	sluice_service_max_connections:gauge sluice_service_panic:gauge \
	sluice_backend_packets_total:counter sluice_backend_bytes_total:counter \
	sluice_backend_new_flows_total:counter sluice_backend_active_connections:gauge \
	sluice_backend_pending_connections:gauge sluice_backend_max_connections:gauge \
	sluice_backend_max_pending:gauge sluice_backend_weight:gauge \
	sluice_backend_breaker_state:gauge sluice_backend_breaker_trips_total:counter \
	sluice_backend_health_state:gauge sluice_backend_check_duration_seconds:histogram \
	sluice_backend_checks_total:counter sluice_backend_handshake_seconds:histogram \
	sluice_backend_connect_timeouts_total:counter sluice_backend_connects_refused_total:counter \
	sluice_backend_resets_total:counter sluice_backend_icmp_unreachable_total:counter \
	sluice_backend_reconciled_total:counter sluice_backend_redispatches_total:counter \
	sluice_packets_by_reason_total:counter; do
	grep -qx "# TYPE ${f%%:*} ${f##*:}" "$S" || lab_fail "no '# TYPE ${f%%:*} ${f##*:}'"
	grep -q "^# HELP ${f%%:*} ." "$S" || lab_fail "no '# HELP ${f%%:*}'"
done
[ "$(val "$S" 'sluice_build_info{version="0.1"}')" = 1 ] || lab_fail "build_info"
# every reason of the X-macro, with its verdict, and no other
nr=0
while read -r verdict name; do
	nr=$((nr + 1))
	v=$(echo "$verdict" | tr 'A-Z' 'a-z')
	val "$S" "sluice_packets_by_reason_total{reason=\"$name\",verdict=\"$v\"}" >/dev/null ||
		lab_fail "reason $name ($v) missing"
done < <(sed -n 's/^[[:space:]]*X([A-Z0-9_]*, *\(PASS\|DROP\), *"\([a-z0-9_]*\)".*/\1 \2/p' \
	"$LAB_TOP/include/sluice/reasons.h")
((nr >= 20)) || lab_fail "read only $nr reasons from reasons.h"
[ "$(grep -c '^sluice_packets_by_reason_total{' "$S")" = "$nr" ] || lab_fail "not exactly $nr reason series"
echo "  $nr reasons, each with its verdict"
for i in 1 2 3; do
	val "$S" "sluice_backend_weight$(bk $i)" >/dev/null || lab_fail "no weight for b$i"
	val "$S" "sluice_backend_packets_total{service=\"web6\",backend=\"[${LAB_BK6[i]}]:$LAB_PORT\"}" >/dev/null ||
		lab_fail "no IPv6 backend [${LAB_BK6[i]}]:$LAB_PORT"
	[ "$(val "$S" "sluice_backend_handshake_seconds_bucket$(bk $i 'le="+Inf"')")" = \
	  "$(val "$S" "sluice_backend_handshake_seconds_count$(bk $i)")" ] || lab_fail "b$i: +Inf bucket != _count"
done
[ "$(val "$S" 'sluice_service_max_connections{service="web"}')" = 1000 ] || lab_fail "service max_connections"
# no client address in any label
grep -q "$LAB_CLIENT4\|$LAB_CLIENT6" "$S" && lab_fail "a client address in a label"

echo "traffic: a burst of 30 connections"
scrape || lab_fail "scrape"
before=$S
lab_sports 30 || lab_fail "lab_sports"
out=$(lab_exec c "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" --sport-base "$LAB_SPORT" --count 30)
printf '%s\n' "$out" | grep -q FAIL && lab_fail "burst: $(printf '%s\n' "$out" | grep FAIL | head -3)"
scrape || lab_fail "scrape"
after=$S
d() { echo $(($(val "$after" "$1" || echo 0) - $(val "$before" "$1" || echo 0))); }
nf=$(d 'sluice_service_new_flows_total{service="web"}')
pk=$(d 'sluice_service_packets_total{service="web"}')
by=$(d 'sluice_service_bytes_total{service="web"}')
bnf=$(($(sum "$after" 'sluice_backend_new_flows_total{service="web",') - $(sum "$before" 'sluice_backend_new_flows_total{service="web",')))
echo "  deltas: new_flows $nf (backends $bnf), packets $pk, bytes $by"
[ "$nf" = 30 ] || lab_fail "service new_flows moved by $nf, expected 30"
[ "$bnf" = 30 ] || lab_fail "backends' new_flows moved by $bnf in sum, expected 30"
((pk >= 4 * 30)) || lab_fail "packets moved by $pk for 30 connections"
((by >= 40 * pk)) || lab_fail "bytes moved by $by for $pk packets"
[ "$(d 'sluice_service_new_flows_total{service="web6"}')" = 0 ] || lab_fail "web6 moved without traffic"
# handshake times reach sluiced at its next tick (tick_ms): poll
hs0=$(sum "$before" 'sluice_backend_handshake_seconds_count{service="web",')
for ((k = 0; k < 50; k++)); do
	hs=$(($(sum "$S" 'sluice_backend_handshake_seconds_count{service="web",') - hs0))
	((hs >= 30)) && break
	sleep 0.1
	scrape || lab_fail "scrape"
done
[ "$hs" = 30 ] || lab_fail "handshake histograms counted $hs handshakes, expected 30"
echo "  handshakes counted: $hs"
grep '^sluice_backend_handshake_seconds_\(sum\|count\){service="web",backend="198.19.0.11:80"' "$S" | sed 's/^/    /'

echo "held: 7 idle connections"
lab_bg "$LAB_DIR/open.out" c "$LAB_TOOLS/slconn" open "$LAB_VIP4" "$LAB_PORT" --count 7 \
	--stop-file "$LAB_DIR/open.stop" --seconds 60
lab_wait_lines "$LAB_DIR/open.out" '^open:' 1 100 || lab_fail "the client did not open its connections"
grep -q '^open: established 7 failed 0' "$LAB_DIR/open.out" || lab_fail "$(cat "$LAB_DIR/open.out")"
ok=
for ((k = 0; k < 50; k++)); do     # the burst's flows close as their FINs pass
	scrape || lab_fail "scrape"
	a=$(val "$S" 'sluice_service_active_connections{service="web"}')
	ba=$(sum "$S" 'sluice_backend_active_connections{service="web",')
	[ "$a" = 7 ] && [ "$ba" = 7 ] && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || lab_fail "active connections: service $a, backends $ba; expected 7"
[ "$(sum "$S" 'sluice_backend_pending_connections{service="web",')" = 0 ] || lab_fail "pending connections with none pending"
echo "  active: service $a, backends $ba"
touch "$LAB_DIR/open.stop"

echo "breaker: b2's server killed"
for i in 1 2 3; do
	[ "$(val "$S" "sluice_backend_breaker_state$(bk $i 'state="closed"')")" = 1 ] || lab_fail "b$i not closed at start"
done
t0=$(val "$S" "sluice_backend_breaker_trips_total$(bk 2)")
lab_backend_stop 2
ok=
for ((k = 0; k < 50; k++)); do
	scrape || lab_fail "scrape"
	[ "$(val "$S" "sluice_backend_breaker_state$(bk 2 'state="open"')")" = 1 ] && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || lab_fail "b2's breaker_state{state=\"open\"} did not become 1"
for st in closed half_open draining forced_open forced_closed metrics_only; do
	[ "$(val "$S" "sluice_backend_breaker_state$(bk 2 "state=\"$st\"")")" = 0 ] || lab_fail "b2: state $st is not 0"
done
for i in 1 2 3; do
	n=$(grep -c "^sluice_backend_breaker_state{service=\"web\",backend=\"${LAB_BK4[i]}:$LAB_PORT\",state=\"[a-z_]*\"} 1$" "$S")
	[ "$n" = 1 ] || lab_fail "b$i: $n breaker states at 1"
	[ "$(grep -c "^sluice_backend_breaker_state{service=\"web\",backend=\"${LAB_BK4[i]}:$LAB_PORT\"," "$S")" = 7 ] ||
		lab_fail "b$i: not 7 breaker state series"
done
t1=$(val "$S" "sluice_backend_breaker_trips_total$(bk 2)")
((t1 == t0 + 1)) || lab_fail "trips_total went from $t0 to $t1"
ok=
for ((k = 0; k < 30; k++)); do
	[ "$(val "$S" "sluice_backend_health_state$(bk 2 'state="down"')")" = 1 ] && { ok=1; break; }
	sleep 0.1
	scrape || lab_fail "scrape"
done
[ -n "$ok" ] || lab_fail "b2's health_state{state=\"down\"} did not become 1"
[ "$(val "$S" "sluice_backend_health_state$(bk 2 'state="up"')")" = 0 ] || lab_fail "b2 down and up"
[ "$(val "$S" "sluice_backend_health_state$(bk 1 'state="up"')")" = 1 ] || lab_fail "b1 not up"
# the checks' own families: b2's failed checks are counted, b1's passed ones,
# and the results add up to the duration histogram's count
f2=$(val "$S" "sluice_backend_checks_total$(bk 2 'result="failed"')") || lab_fail "no failed checks series for b2"
((f2 >= 2)) || lab_fail "b2: $f2 failed checks counted, its health is down (fall 2)"
o1=$(val "$S" "sluice_backend_checks_total$(bk 1 'result="ok"')") || lab_fail "no ok checks series for b1"
((o1 >= 2)) || lab_fail "b1: $o1 ok checks counted, its health is up (rise 2)"
c1=$(val "$S" "sluice_backend_check_duration_seconds_count$(bk 1)") || lab_fail "no check duration count for b1"
n1=$(($(val "$S" "sluice_backend_checks_total$(bk 1 'result="ok"')") + $(val "$S" "sluice_backend_checks_total$(bk 1 'result="failed"')") + $(val "$S" "sluice_backend_checks_total$(bk 1 'result="timeout"')")))
((c1 == n1)) || lab_fail "b1: check duration count $c1, results $n1"
echo "  b2: open (trips $t0 -> $t1), health down; the others closed"
promtool check metrics <"$S" >"$LAB_DIR/promtool.out" 2>&1 ||
	{ cat "$LAB_DIR/promtool.out"; lab_fail "promtool check metrics after the trip"; }

echo "reload: metrics_listen moves, then off"
LAB_TOP_EXTRA='metrics_listen = "127.0.0.2:9470";'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload"
scrape http://127.0.0.2:9470/metrics || lab_fail "no metrics on the new address"
grep -q '^sluice_build_info' "$S" || lab_fail "new address: not the metrics page"
scrape 2>/dev/null && lab_fail "the old address still answers"
LAB_TOP_EXTRA='metrics_listen = "off";'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload"
scrape http://127.0.0.2:9470/metrics 2>/dev/null && lab_fail "metrics still served with metrics_listen = off"
grep -q "metrics: off" "$LAB_SLUICED_LOG" || lab_fail "no 'metrics: off' in the log"

echo "a bad metrics_listen is an error of the file, with its line"
LAB_TOP_EXTRA='metrics_listen = "127.0.0.1:99999";'
lab_write_config "$LAB_DIR/bad.conf" both 1 2 3 || lab_fail "lab_write_config"
line=$(grep -n metrics_listen "$LAB_DIR/bad.conf" | cut -d: -f1)
out=$("$LAB_SLUICED" --config "$LAB_DIR/bad.conf" --check-config 2>&1) && lab_fail "--check-config accepted it"
echo "$out" | grep -q "$LAB_DIR/bad.conf:$line: metrics_listen: " || lab_fail "error without FILE:LINE: $out"
echo "  $out"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly"
echo "PASS"
