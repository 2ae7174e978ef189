#!/usr/bin/env bash
# Bulkheads in the lab. Backend b1 has max_conns = 5: eight long-lived
# keep-alive connections whose flows Maglev sends to b1 first: exactly five
# land on b1 (its live counter says 5), the other three on other backends
# (the data path probes further candidates). Then the service is left with
# b1 alone (reject = "rst"): new connections beyond the five are answered
# with an RST at once (the client sees "connection refused"), counted under
# bulkhead_backend; when one of the five closes, a new one gets its slot.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA='reject = "rst";'
LAB_BK_EXTRA[1]='max_conns = 5;'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

on_b1=0
for k in 1 2 3 4 5 6 7 8; do
	lab_sport_for "$conf" web b1 || lab_fail "no source port leads to b1"
	lab_hold_start "h$k" "$LAB_VIP4" 120 "$LAB_SPORT" || lab_fail "keep-alive connection $k"
	echo "  connection $k (sport $LAB_SPORT, Maglev: b1): on $LAB_HOLD_BACKEND"
	hb[k]=$LAB_HOLD_BACKEND
	[ "$LAB_HOLD_BACKEND" = b1 ] && on_b1=$((on_b1 + 1))
	if ((k <= 5)) && [ "$LAB_HOLD_BACKEND" != b1 ]; then
		lab_fail "connection $k went to $LAB_HOLD_BACKEND while b1 had room"
	fi
done
[ "$on_b1" = 5 ] || lab_fail "$on_b1 connections on b1, max_conns is 5"
a=$(lab_bk_field 1 active)
[ "$a" = 5 ] || lab_fail "b1's active counter is $a, expected 5"
for k in 1 2 3 4 5 6 7 8; do lab_hold_advance "h$k" 3 || lab_fail "connection $k stalled"; done

echo "service web with b1 alone: the connections beyond five are reset"
lab_write_config "$conf" v4 1 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload"
before=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "reason" && $2 == "bulkhead_backend" { print $3 }')
lab_sports 3 || lab_fail "lab_sports"
out=$(lab_exec c "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" --sport-base "$LAB_SPORT" --count 3 --max-fail 3)
echo "$out" | sed 's/^/  /'
[ "$(echo "$out" | grep -c 'FAIL.*refused')" = 3 ] || lab_fail "expected 3 refused connections"
after=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "reason" && $2 == "bulkhead_backend" { print $3 }')
[ "$((after - ${before:-0}))" = 3 ] || lab_fail "bulkhead_backend grew by $((after - ${before:-0})), expected 3"
for k in 1 2 3 4 5; do lab_hold_advance "h$k" 3 || lab_fail "connection $k on b1 stalled after the refusals"; done

echo "one of the five closes: its slot is free again"
lab_hold_stop h1 b1 || lab_fail "connection 1"
for ((k = 0; k < 50; k++)); do [ "$(lab_bk_field 1 active)" = 4 ] && break; sleep 0.1; done
[ "$(lab_bk_field 1 active)" = 4 ] || lab_fail "b1's active counter is $(lab_bk_field 1 active) after a close, expected 4"
lab_sports 1 || lab_fail "lab_sports"
out=$(lab_exec c "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" --sport-base "$LAB_SPORT" --count 1)
[ "$out" = "$LAB_SPORT b1" ] || lab_fail "a new connection after the close: $out"
for k in 2 3 4 5; do lab_hold_stop "h$k" b1 || lab_fail "connection $k"; done
for k in 6 7 8; do lab_hold_stop "h$k" "${hb[k]}" || lab_fail "connection $k"; done
for ((k = 0; k < 50; k++)); do [ "$(lab_bk_field 1 active)" = 0 ] && break; sleep 0.1; done
[ "$(lab_bk_field 1 active)" = 0 ] || lab_fail "b1's active counter is $(lab_bk_field 1 active) with no connection left"
echo "PASS"
