#!/usr/bin/env bash
# Abuse figures (bench/run.sh's "abuse" part; `make soak` runs it with
# SL_SOAK=1, the long versions). Runs each abuse test and prints one JSON
# object per case on stdout, from the test's own summary line:
#   abuse.random    frames checked, frames/s, forwarded, violations (0)
#   abuse.synflood  SYNs sent, most pending seen vs max_pending, failures
#                   of the keep-alive and of new connections
#   abuse.tablefull idle connections over a 1,024-entry table: admitted,
#                   entries held, failures
#   abuse.kill9     kill -9 cycles during changes, config mismatches after
#                   restart, broken connections
# A case that fails prints {"bench":..., "failed":true, "exit":N} and the
# script exits 1. Progress and the tests' output go to stderr.
# Environment: SL_SOAK (1: the long versions), SL_SEED (one seed for all).
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${LAB_BUILD:-$TOP/build}
exec 3>&1 1>&2
status=0
TMP=$(mktemp -d /tmp/sluice-abuse.XXXXXX) || exit 1
trap 'rm -rf -- "$TMP"' EXIT

# case NAME PREFIX CMD...: run, then turn the "PREFIX: key value ..." line
# into JSON (numbers as numbers), with the run's seconds.
run_case() {
	local name=$1 prefix=$2 t0 t1 rc line
	shift 2
	echo "bench: abuse.$name: $*"
	t0=$(date +%s.%N)
	"$@" >"$TMP/$name.out" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	sed 's/^/  /' "$TMP/$name.out" | tail -n 30
	line=$(grep "^$prefix: [a-z_]* [0-9]" "$TMP/$name.out" | tail -n 1)
	if [ "$rc" != 0 ] || [ -z "$line" ]; then
		[ "$rc" = 77 ] && { printf '{"bench":"abuse.%s","skipped":"cannot run here (see stderr)"}\n' "$name" >&3; return; }
		printf '{"bench":"abuse.%s","failed":true,"exit":%d}\n' "$name" "$rc" >&3
		status=1
		return
	fi
	awk -v name="$name" -v secs="$(echo "$t1 - $t0" | bc)" -v soak="${SL_SOAK:-0}" '{
		printf "{\"bench\":\"abuse.%s\",\"soak\":%s", name, (soak != "" && soak != "0") ? "true" : "false"
		for (i = 2; i < NF; i += 2) {
			v = $(i + 1)
			if (v ~ /^[0-9]+(\.[0-9]+)?$/) printf ",\"%s\":%s", $i, v
			else printf ",\"%s\":\"%s\"", $i, v
			if ($i == "frames") frames = v
		}
		printf ",\"seconds\":%.1f", secs
		if (frames) printf ",\"frames_per_s\":%d", frames / secs
		print "}"
	}' <<<"$line" >&3
}

run_case random random "$B/tests/bpf/test_random"
run_case synflood synflood bash "$TOP/tests/e2e/test_synflood.sh"
run_case tablefull tablefull bash "$TOP/tests/e2e/test_tablefull.sh"
run_case kill9 kill9_changes bash "$TOP/tests/e2e/test_kill9_changes.sh"
exit $status
