#!/usr/bin/env bash
# Run test suites: unit, bpf, e2e, fuzz (any of them, in the order given).
# Each test program or script is one test: exit 0 passes, 77 skips, else fails.
# The closing line is "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0 failed=()

run_one() {
	local name=$1; shift
	local t0=$SECONDS rc
	echo "=== $name"
	"$@"
	rc=$?
	case $rc in
	0)  pass=$((pass + 1)); echo "--- PASS $name ($((SECONDS - t0))s)" ;;
	77) skip=$((skip + 1)); echo "--- SKIP $name" ;;
	*)  fail=$((fail + 1)); failed+=("$name"); echo "--- FAIL $name (exit $rc)" ;;
	esac
}

# A libFuzzer harness over each file of its seed corpus, once (no fuzzing:
# that is `make fuzz`). Quiet unless it fails.
fuzz_seeds() {
	local h=$1 name=${1##*/fuzz_} log rc
	log=build/fuzz/${1##*/}.seeds.log
	# -error_exitcode: libFuzzer's default, 77, would count as a skip here
	"$h" -error_exitcode=1 -timeout=25 -timeout_exitcode=1 tests/fuzz/corpus/"$name"/* >"$log" 2>&1
	rc=$?
	echo "$(grep -c '^Executed ' "$log") seed inputs (log: $log)"
	[ $rc -eq 0 ] || tail -40 "$log"
	[ $rc -ne 77 ] || rc=1
	return $rc
}

for suite in "$@"; do
	case $suite in
	unit) for t in build/tests/unit/test_*; do [ -x "$t" ] && run_one "unit/${t##*/}" "$t"; done ;;
	bpf)  for t in build/tests/bpf/test_*; do [ -x "$t" ] && run_one "bpf/${t##*/}" "$t"; done ;;
	e2e)  for t in tests/e2e/test_*.sh; do [ -f "$t" ] && run_one "e2e/${t##*/}" bash "$t"; done ;;
	fuzz) for t in build/fuzz/fuzz_*; do [ -x "$t" ] && run_one "fuzz/${t##*/}" fuzz_seeds "$t"; done ;;
	*) echo "run.sh: unknown suite $suite" >&2; exit 1 ;;
	esac
done

((${#failed[@]})) && printf 'failed: %s\n' "${failed[@]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
