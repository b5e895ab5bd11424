#!/usr/bin/env bash
# Runs every fuzz target (func FuzzX in a *_fuzz_test.go file) for FUZZTIME
# each (default 1m; scripts/test.sh runs them for 4s). Go fuzzes one target
# per invocation. A failing input is written to <package>/testdata/fuzz/<FuzzX>/:
# fix the bug and commit that file, so the input stays a regression test that
# `go test` runs every time.
#   FUZZTIME=10m bash scripts/fuzz.sh            # longer
#   FUZZ_PARALLEL=4 bash scripts/fuzz.sh         # more workers (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-1m}
parallel=${FUZZ_PARALLEL:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
count=0
flaked=0
start=$SECONDS
while IFS=: read -r file target; do
	pkg=./$(dirname "$file")
	count=$((count + 1))
	printf '%-28s %-22s %s\n' "$target" "$pkg" "$fuzztime" >&2
	corpus=$pkg/testdata/fuzz/$target
	before=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
	if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -parallel="$parallel" -timeout=0 "$pkg" >"$log" 2>&1; then
		after=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
		# Go 1.26's fuzz coordinator can report its own -fuzztime deadline
		# as a failure on a loaded machine (golang/go#75804, fixed in 1.27):
		# "context deadline exceeded" and no failing input written. That is
		# not a finding; anything else (an input written, a build error) is.
		if [ "$after" = "$before" ] && grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"; then
			echo "  (ignored: Go's fuzz deadline race, golang/go#75804; no failing input)" >&2
			flaked=$((flaked + 1))
		else
			cat "$log" >&2
			failed+=("$target ($pkg)")
		fi
	fi
done < <(git ls-files '*_fuzz_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //')
if [ "$count" = 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzzed $count targets in $((SECONDS - start))s ($flaked ended by Go's deadline race)" >&2
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz target failed: %s\n' "${failed[@]}" >&2
	echo "see the output above; a failing input is written to the package's testdata/fuzz/<FuzzX>/: fix the bug, then commit that file as a regression seed" >&2
	exit 1
fi
