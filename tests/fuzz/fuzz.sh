#!/usr/bin/env bash
# make fuzz: each libFuzzer harness for FUZZ_SECONDS (default 60) on a copy
# of its seed corpus (build/fuzz/run/NAME/corpus: the checked-in corpora
# never grow). A crash, leak, UBSan report, failed check or timeout stops
# that harness; its input is left in build/fuzz/run/NAME/ (crash-*,
# leak-*, timeout-*...) and the script fails. FUZZ_ARGS: more libFuzzer
# flags (e.g. -jobs=2, -seed=1).
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
rc=0
for name in config proto; do
	h=build/fuzz/fuzz_$name
	dir=build/fuzz/run/$name
	[ -x "$h" ] || { echo "fuzz: $h is not built (make fuzz builds it)" >&2; exit 1; }
	rm -rf "$dir"
	mkdir -p "$dir/corpus"
	cp tests/fuzz/corpus/$name/* "$dir/corpus/"
	dict=()
	[ -f tests/fuzz/$name.dict ] && dict=(-dict=tests/fuzz/$name.dict)
	echo "=== fuzz_$name: ${secs}s, seeds: $(ls tests/fuzz/corpus/$name | wc -l), log: $dir/log"
	# -error_exitcode: libFuzzer's default (77) reads as "skipped" elsewhere
	"$h" -max_total_time="$secs" -timeout=25 -error_exitcode=1 -timeout_exitcode=1 \
		-print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" ${FUZZ_ARGS:-} \
		"$dir/corpus" > "$dir/log" 2>&1
	r=$?
	grep -E '^(#[0-9]+[[:space:]]+(DONE|INITED)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$dir/log" | sed 's/^/  /'
	echo "  corpus: $(ls tests/fuzz/corpus/$name | wc -l) -> $(ls "$dir/corpus" | wc -l) inputs"
	if [ $r -ne 0 ]; then
		rc=1
		echo "--- FAIL fuzz_$name (exit $r):"
		grep -E -A40 'ERROR: |runtime error|check failed|==[0-9]+==' "$dir/log" | head -60 | sed 's/^/  /'
		ls "$dir" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | sed "s|^|  input: $dir/|"
	else
		echo "--- PASS fuzz_$name"
	fi
done
exit $rc
