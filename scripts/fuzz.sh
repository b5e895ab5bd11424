#!/usr/bin/env bash
# Runs every fuzz target (func FuzzX in a *_fuzz_test.go file) for FUZZTIME
# each (default 1m; scripts/test.sh runs them for 5s). Go fuzzes one target
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
start=$SECONDS
while IFS=: read -r file target; do
	pkg=./$(dirname "$file")
	count=$((count + 1))
	printf '%-28s %-22s %s\n' "$target" "$pkg" "$fuzztime" >&2
	if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -parallel="$parallel" "$pkg" >"$log" 2>&1; then
		cat "$log" >&2
		failed+=("$target ($pkg)")
	fi
done < <(git ls-files '*_fuzz_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/func //')
if [ "$count" = 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzzed $count targets in $((SECONDS - start))s" >&2
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz target failed: %s\n' "${failed[@]}" >&2
	echo "see the output above; a failing input is written to the package's testdata/fuzz/<FuzzX>/: fix the bug, then commit that file as a regression seed" >&2
	exit 1
fi
