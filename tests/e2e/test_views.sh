#!/usr/bin/env bash
# The operator's views against a running sluiced in the lab:
# - `sluice backend list` / `backend show` print a table per service
#   (ipvsadm -L -n --stats): a service line (VIP:PORT proto scheduler) and
#   a row per backend (weight, breaker, health, active, pending, conns,
#   packets, bytes) whose counters are those of `-j -s backend list`;
#   `backend show` adds the backend's details; a drained backend says so.
# - `sluice stats -w SECONDS`: one JSON object per interval with -j (one
#   text block without, no terminal escapes unless on a terminal), -c COUNT
#   stops after COUNT intervals, SIGINT exits 0; the per-interval deltas of
#   new flows add up exactly to the connections made while it watched (per
#   service and per backend), across a restart of sluiced; a connection to a
#   VIP port without a service shows as drop reason no_service; usage
#   errors exit 1.
# Never asserts on elapsed time: only counts, states and formats.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
command -v jq >/dev/null || lab_skip "jq not installed (make deps)"
trap lab_down EXIT
lab_trap_signals

sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA='check = { type = "tcp"; interval_ms = 100; timeout_ms = 100; rise = 1; fall = 2; };'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

echo "health checks decide: every backend up"
for ((k = 0; k < 100; k++)); do
	[ "$(sl -j backend list | jq '[.[] | select(.health == "up")] | length')" = 6 ] && break
	sleep 0.1
done
((k < 100)) || lab_fail "backends not all up: $(sl -j backend list)"

echo "backend list: a table per service"
lab_check_burst "$conf" web "$LAB_VIP4" 30 || lab_fail "burst"
out=$(sl backend list) || lab_fail "backend list: exit $?"
echo "$out" | sed 's/^/  | /'
head -n 1 <<<"$out" | grep -q '^SERVICE  *VIP:PORT  *PROTO  *SCHED  *ACTIVE  *PENDING  *CONNS  *PACKETS  *BYTES$' ||
	lab_fail "first header line"
sed -n 2p <<<"$out" | grep -q '^  -> BACKEND:PORT  *WEIGHT  *BREAKER  *HEALTH$' || lab_fail "second header line"
grep -q "^web  *$LAB_VIP4:80  *tcp  *maglev  " <<<"$out" || lab_fail "no line for service web"
grep -q "^web6  *\[$LAB_VIP6\]:80  *tcp  *maglev  " <<<"$out" || lab_fail "no line for service web6"
[ "$(grep -c '^  -> ' <<<"$out")" = 7 ] || lab_fail "want 6 backend rows (and the header)"
# Each backend row is what -j -s says; the service line has the service's
# counters and its backends' pending. Two reads: a late packet or the
# reaper may move a counter between them, so read again until they agree.
rows_agree() {
	local json got want i
	out=$(sl backend list) || return 1
	json=$(sl -j -s backend list) || return 1
	for i in 1 2 3; do
		want=$(jq -r --arg a "${LAB_BK4[i]}" '.[] | select(.addr == $a) |
			"\(.weight) closed \(.health) \(.active) \(.pending) \(.new_flows) \(.packets) \(.bytes)"' <<<"$json")
		got=$(awk -v a="${LAB_BK4[i]}:80" '$1 == "->" && $2 == a { $1 = $2 = ""; print }' <<<"$out" | xargs)
		[ "$got" = "$want" ] || { DIFF="row of ${LAB_BK4[i]}: '$got', -j -s says '$want'"; return 1; }
	done
	want=$(sl -j -s service show web | jq -r '"\(.active) \(.new_flows) \(.packets) \(.bytes)"')
	want="${want%% *} $(jq '[.[] | select(.service == "web") | .pending] | add' <<<"$json") ${want#* }"
	got=$(awk '$1 == "web" { print $5, $6, $7, $8, $9 }' <<<"$out")
	[ "$got" = "$want" ] || { DIFF="service line of web: '$got', want '$want'"; return 1; }
}
for ((k = 0; k < 20; k++)); do
	rows_agree && break
	sleep 0.2
done
((k < 20)) || lab_fail "$DIFF"
[ "$(awk '$1 == "web" { print $7 }' <<<"$out")" = 30 ] || lab_fail "web: CONNS is not the 30 connections made"
sl -s backend list web | head -n 1 | grep -q 'BYTES  *REFUSED  *TIMEOUTS  *RESETS$' ||
	lab_fail "-s adds no failure counters: $(sl -s backend list web | head -n 1)"
[ "$(sl backend list web6 | grep -c '^  -> \[')" = 3 ] || lab_fail "backend list web6: $(sl backend list web6)"

echo "backend show: one row and the details"
out=$(sl backend show web "${LAB_BK4[2]}") || lab_fail "backend show: exit $?"
echo "$out" | sed 's/^/  | /'
[ "$(grep -c '^  -> ' <<<"$out")" = 2 ] || lab_fail "backend show: want one backend row"
grep -q "^  -> ${LAB_BK4[2]}:80  *1 closed  *up  " <<<"$out" || lab_fail "backend show: row"
grep -q '^ *id [0-9][0-9]* state active max_conns 0 max_pending 0$' <<<"$out" || lab_fail "backend show: limits"
grep -q '^ *breaker closed mode auto gate closed trips 0' <<<"$out" || lab_fail "backend show: breaker"
grep -q '^ *health up check tcp' <<<"$out" || lab_fail "backend show: health"
err=$(sl backend show nosuch "${LAB_BK4[2]}" 2>&1); rc=$?
[ $rc = 2 ] && grep -q "no service named nosuch" <<<"$err" || lab_fail "unknown service: exit $rc, '$err'"
# -j is what it was: one object, the attributes' keys
sl -j backend show web "${LAB_BK4[2]}" | jq -e '.service == "web" and .weight == 1 and .breaker == "closed" and
	(has("packets") | not)' >/dev/null || lab_fail "backend show -j changed"

echo "stats -w: usage"
for args in "-c 2" "-w 0" "-w 0.05" "-w x" "-w 1 -c 0" "-w 1 bogus 2" "-w"; do
	# shellcheck disable=SC2086
	sl stats $args >/dev/null 2>&1; rc=$?
	[ $rc = 1 ] || lab_fail "stats $args: exit $rc, want 1 (usage)"
done

echo "stats -w -c: COUNT objects (JSON) or blocks (text), exit 0"
out=$(sl -j stats -w 0.2 -c 3 2>/dev/null) || lab_fail "stats -j -w 0.2 -c 3: exit $?"
[ "$(grep -c . <<<"$out")" = 3 ] || lab_fail "want 3 JSON lines: $out"
jq -se 'length == 3 and all(.[]; .interval_s == 0.2 and .elapsed_s > 0 and .time_ns > 0 and
	(.services | map(.service) | sort) == ["web", "web6"] and
	all(.services[]; (.backends | length) == 3 and has("packets_per_s") and has("active") and has("pending") and
		all(.backends[]; has("new_flows_per_s") and has("bytes_per_s") and .breaker == "closed" and
			.health == "up")) and
	(.totals | has("packets_per_s")) and (.reasons | type) == "object")' <<<"$out" >/dev/null ||
	lab_fail "stats -w JSON: $(head -n 1 <<<"$out")"
out=$(sl stats -w 0.2 -c 2 2>/dev/null) || lab_fail "stats -w 0.2 -c 2: exit $?"
[ "$(grep -c '^sluice stats: ' <<<"$out")" = 2 ] || lab_fail "want 2 text blocks: $out"
grep -q $'\e' <<<"$out" && lab_fail "escape sequences when stdout is not a terminal"
grep -q '^SERVICE / -> BACKEND  *PKT/S  *BYTES/S  *FLOWS/S  *ACTIVE  *PENDING  *HEALTH  *BREAKER$' <<<"$out" ||
	lab_fail "text block header: $out"
grep -q "^  -> ${LAB_BK4[1]}:80 .* up  *closed$" <<<"$out" || lab_fail "text block backend row: $out"
if command -v script >/dev/null; then
	out=$(lab_gw_exec script -qec "$SLUICE -R $LAB_RUN_DIR stats -w 0.2 -c 2" /dev/null) ||
		lab_fail "stats -w on a terminal: exit $?"
	[ "$(grep -o $'\e\\[H\e\\[2J' <<<"$out" | wc -l)" -ge 2 ] || lab_fail "no clear-and-redraw on a terminal"
fi

echo "stats -w: deltas add up to the connections made while it watched, across a restart"
watch=$LAB_DIR/watch
lab_bg "$watch" gw "$SLUICE" -R "$LAB_RUN_DIR" -j stats -w 0.3
WATCH_PID=$LAB_LAST_PID
lab_wait_lines "$watch" '^sluice: watching every' 1 100 || lab_fail "watcher did not start: $(cat "$watch")"
lab_check_burst "$conf" web "$LAB_VIP4" 40 || lab_fail "burst 1"
spread1=$LAB_SPREAD
# a SYN to a VIP port without a service: dropped, reason no_service
lab_c_exec timeout 1 bash -c "exec 3<>/dev/tcp/$LAB_VIP4/81" 2>/dev/null
lab_stop_sluiced || lab_fail "sluiced did not stop"
lab_start_sluiced "$conf" || lab_fail "sluiced did not restart"
lab_check_burst "$conf" web6 "$LAB_VIP6" 20 || lab_fail "burst 2 (v6)"
# two more intervals, so the last one began after the bursts ended
n=$(grep -c '^{' "$watch")
lab_wait_lines "$watch" '^{' $((n + 2)) 300 || lab_fail "watcher stopped printing: $(tail -n 3 "$watch")"
kill -INT "$WATCH_PID"
lab_wait_pid "$WATCH_PID" 100; rc=$?
[ $rc = 0 ] || lab_fail "stats -w after SIGINT: exit $rc, want 0"
grep '^{' "$watch" | jq -se . >/dev/null || lab_fail "the watcher's output is not JSON lines"
sum() { grep '^{' "$watch" | jq -s "$1"; }
got=$(sum '[.[].services[] | select(.service == "web") | .new_flows // 0] | add')
[ "$got" = 40 ] || lab_fail "web: new flows over the intervals $got, 40 connections were made"
got=$(sum '[.[].services[] | select(.service == "web6") | .new_flows // 0] | add')
[ "$got" = 20 ] || lab_fail "web6: new flows over the intervals $got, 20 connections were made"
for i in 1 2 3; do
	want=$(awk -v b="b$i" '{ for (k = 1; k < NF; k += 2) if ($k == b) n = $(k + 1) } END { print n + 0 }' <<<"$spread1")
	got=$(sum "[.[].services[] | select(.service == \"web\") | .backends[] |
		select(.addr == \"${LAB_BK4[i]}\") | .new_flows // 0] | add")
	[ "$got" = "$want" ] || lab_fail "b$i: new flows over the intervals $got, it got $want connections"
done
got=$(sum '[.[].totals.new_flows // 0] | add')
[ "$got" = 60 ] || lab_fail "totals: new flows $got, want 60"
got=$(sum '[.[].reasons.no_service | select(. != null) | select(.verdict == "drop") | .count] | add // 0')
((got >= 1)) || lab_fail "no no_service drop seen: $(grep '^{' "$watch" | jq -c .reasons)"
echo "  $(grep -c '^{' "$watch") intervals; daemon restart seen as: $(grep '^sluice: ' "$watch" | grep -v watching | head -n 1)"

echo "drain shows in the table"
sl breaker drain web "${LAB_BK4[3]}" || lab_fail "breaker drain: exit $?"
sl backend list web | grep -q "^  -> ${LAB_BK4[3]}:80  *1 draining  *up  " ||
	lab_fail "draining not in the table: $(sl backend list web)"
sl breaker auto web "${LAB_BK4[3]}" || lab_fail "breaker auto: exit $?"

echo "no daemon: stats -w exits 3 at once"
lab_stop_sluiced || lab_fail "sluiced did not stop"
sl stats -w 0.2 -c 1 >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || lab_fail "stats -w without sluiced: exit $rc, want 3"
echo "PASS: backend table (list, show, -s), stats -w (JSON, text, terminal, count, SIGINT, exact deltas, restart, drop reasons)"
