#!/usr/bin/env bash
# The test suite, as a user or CI runs it (`make test`):
#   1. static checks: gofmt, go vet, staticcheck;
#   2. a real Apache Kafka pair (scripts/kafka-pair.sh) unless MIRROR_TEST_A and
#      MIRROR_TEST_B already point at one (e.g. the docker-compose pair in localtest/);
#   3. go test -race over everything, with the real tier required (CI=true makes a
#      real-Kafka test that cannot reach its brokers fail instead of skip), but the
#      fault suite's broker cases;
#   4. the short version of those (brokers killed, restarted and frozen) on a Kafka
#      pair of their own (localtest/suites/faults/run.sh, FAULTS_A_PORT/FAULTS_B_PORT), so
#      that they never disturb the pair the other packages run on.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

# The benchmarks are a module of their own (localtest/bench/go.mod): each
# step runs on both modules.
step "go vet"
go vet ./...
go -C localtest/bench vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
(cd localtest/bench && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...)

# Every fuzz target for a few seconds (65-85 s in all; `make fuzz` runs
# them longer). Seeds and past failing inputs run with go test below too.
step "fuzz (scripts/fuzz.sh, ${FUZZTIME:-4s} per target)"
FUZZTIME=${FUZZTIME:-4s} bash scripts/fuzz.sh

started=0
if [ -n "${MIRROR_TEST_A:-}" ] && [ -n "${MIRROR_TEST_B:-}" ]; then
	# A pair from outside (e.g. localtest/docker-compose.yml): its secure
	# listeners, if any, come from MIRROR_TEST_*_SASL_SSL/_SSL; tests that
	# need them skip when those are unset.
	export MIRROR_TEST_EXTERNAL_PAIR=1
else
	step "starting the real Kafka pair (first run resolves Apache Kafka from Maven Central)"
	# Index files of 128 KiB instead of Kafka's 10 MiB: each new segment's
	# offset and time indexes are sparse memory-mapped files, and the first
	# index entry of a fresh partition (under transactions: its commit
	# marker) faults them in with the disk's read-ahead, which is 8 MiB on
	# this project's CI VMs (read_ahead_kb): up to 16 MiB zero-filled per new
	# partition. Over a transaction of 100 fresh partitions that stalled
	# both brokers for seconds (the bench smoke's end-to-end latency went
	# from 0.6 s to 8-18 s in 4 of 7 runs, and one CI run failed on it);
	# with 128 KiB, 5 of 5 runs stayed under 1 s. A disk with the common
	# 128 KiB read-ahead behaves the same either way. docs/benchmarks.md
	# ("Issue 17's misses profiled") has the profile; scripts/bench.sh's own
	# pair keeps Kafka's default.
	export KAFKA_BROKER_PROPS="log.index.size.max.bytes=131072${KAFKA_BROKER_PROPS:+ $KAFKA_BROKER_PROPS}"
	exports=$(bash scripts/kafka-pair.sh start) || {
		echo "the real Kafka pair did not start: the real-Kafka tier cannot run, so the suite fails" >&2
		exit 1
	}
	eval "$exports"
	export MIRROR_TEST_A_SASL_SSL MIRROR_TEST_A_SSL MIRROR_TEST_B_SASL_SSL MIRROR_TEST_B_SSL \
		MIRROR_TEST_CA MIRROR_TEST_SCRAM_USER MIRROR_TEST_SCRAM_PASSWORD
	started=1
	trap 'bash scripts/kafka-pair.sh stop >&2 || true' EXIT
fi
export MIRROR_TEST_A MIRROR_TEST_B
export CI=true # real-Kafka tests fail, never skip, when the pair is unreachable
# The fault suite's cases that kill and freeze brokers run in step 4; the
# soak runs from scripts/soak.sh only.
broker_cases='TestTargetBrokerKilledMidTransaction|TestSourceBrokerKilledMidFetch|TestBrokerFrozen'
# One package at a time (-p 1): the packages' real-Kafka tests mostly copy the
# flow A->B, and since issue 17 every copy of a flow shares its work groups'
# transactional ids (mirrorless.A->B.~group.<g>), so two packages copying at
# once fence each other's transactions (safe, but their counts go wrong).
step "go test -race (real Kafka at $MIRROR_TEST_A and $MIRROR_TEST_B)"
go test -race -count=1 -p 1 -timeout 30m -skip "^($broker_cases|TestSoak)\$" ./... "$@"
go -C localtest/bench test -race -count=1 -timeout 10m ./...
step "broker faults, short version (localtest/suites/faults/run.sh, a Kafka pair of their own)"
MIRROR_FAULTS_LONG=0 bash localtest/suites/faults/run.sh -run "^($broker_cases)\$" -timeout 20m
# The comparison benchmark (make bench) at a tiny size, without MM2: keeps the
# harness working (every workload at its smallest: W1-W3, T1 over 4 partitions,
# idle10k over 20, lat in batch and tail mode producing for 2 s with an invocation every second).
# Every copy is verified record by record; no time is checked. This pair keeps deleted topics'
# files for 60 s, longer than compare's -settle, so rounds wait for the metadata only.
step "bench smoke (scripts/bench.sh's program at BENCH_SCALE=0.002, pipe and mirrorless)"
bench_work=$(mktemp -d)
BENCH_SCALE=0.002 go -C localtest/bench run ./compare -work "$bench_work" -methods pipe,mirrorless \
	-idle-partitions 4 -idle-runs 1 -cold-runs 1 -warm-records 1200 -latency-schedule 1s >"$bench_work/table.md"
rm -rf "$bench_work"
[ "$started" = 1 ] && step "stopping the Kafka pair"
exit 0
