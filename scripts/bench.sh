#!/usr/bin/env bash
# bench.sh: mirrorless against a raw consume->produce pipe and MirrorMaker 2
# (issue 6), on a real Kafka pair, in one run (`make bench`).
#
#   scripts/bench.sh [FLAG...]      flags go to localtest/bench/compare (-h lists them),
#                                   e.g. -workloads w1 -methods pipe,mirrorless
#
# It resolves MirrorMaker 2 (org.apache.kafka:connect-mirror + connect-runtime,
# the pair's Kafka version) through Maven into a cache once, starts its own
# Kafka pair with scripts/kafka-pair.sh on ports other than the test pair's,
# runs the Go program, and stops the pair. With MIRROR_TEST_A/MIRROR_TEST_B
# set it uses that pair instead and starts nothing.
#
# Environment:
#   BENCH_SCALE       size factor of the workloads, default 1 (W1 = 1,000,000 records
#                     of 1 KiB); e.g. 0.01 for a smoke run
#   BENCH_WORK        work dir (properties, logs, results), default ${TMPDIR:-/tmp}/mirrorless-bench
#   BENCH_OUT         markdown results file, default $BENCH_WORK/results.md
#   BENCH_CHART       chart PNG, default $BENCH_WORK/bench.png
#   MM2_CACHE_DIR     MirrorMaker 2 jars, default ~/.cache/mirrorless/mm2-$KAFKA_VERSION
#   KAFKA_PAIR_DIR    own pair's state dir, default ${TMPDIR:-/tmp}/mirrorless-bench-compare-pair
#   KAFKA_A_PORT      default 19292 (its controller: +1; ports below Linux's ephemeral
#                     range 32768-60999, which a client connection may hold)
#   KAFKA_B_PORT      default 29292
#   KAFKA_HEAP_OPTS   default "-Xms1g -Xmx2g" (W3 and T1 put 2,000 partitions on A
#                     and up to 8,000 on B, idle10k 10,000 on each; each
#                     workload's topics are deleted before the next)
#   KAFKA_BROKER_PROPS extra server.properties lines of the own pair's brokers;
#                     log.segment.delete.delay.ms=0 is always put first (deleted
#                     topics' files go at once: each round's topics are deleted)
#   KAFKA_VERSION     default 4.1.1
# The table goes to stdout (and $BENCH_OUT); progress to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

for a in "$@"; do
	case $a in
	-h | -help | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
		go -C localtest/bench run ./compare -h || true
		exit 0
		;;
	esac
done

export KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
MM2_CACHE_DIR=${MM2_CACHE_DIR:-$HOME/.cache/mirrorless/mm2-$KAFKA_VERSION}
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

# resolve_mm2: MirrorMaker 2 and its runtime dependencies (plus a log4j2
# binding for slf4j) into $MM2_CACHE_DIR/lib, once.
resolve_mm2() {
	local lib=$MM2_CACHE_DIR/lib stamp=$MM2_CACHE_DIR/.resolved
	[[ -f $stamp && -d $lib ]] && return 0
	command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch MirrorMaker 2 into $MM2_CACHE_DIR (or pass -methods without mm2,mm2-eos)"
	mkdir -p "$MM2_CACHE_DIR"
	log "resolving MirrorMaker 2 $KAFKA_VERSION with Maven into $MM2_CACHE_DIR (first run only)"
	cat >"$MM2_CACHE_DIR/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<!-- written by scripts/bench.sh: MirrorMaker 2 (dedicated mode) and its runtime -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mirrorless</groupId>
  <artifactId>mm2-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
	local tmp=$MM2_CACHE_DIR/lib.tmp
	rm -rf "$tmp"
	if ! mvn -B -q -Dstyle.color=never -f "$MM2_CACHE_DIR/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
		-DincludeScope=runtime -DoutputDirectory="$tmp" >"$MM2_CACHE_DIR/mvn.log" 2>&1; then
		tail -n 30 "$MM2_CACHE_DIR/mvn.log" >&2
		die "Maven could not resolve org.apache.kafka:connect-mirror:$KAFKA_VERSION; see above"
	fi
	[[ -f $tmp/connect-mirror-$KAFKA_VERSION.jar ]] || die "Maven ran but connect-mirror-$KAFKA_VERSION.jar is missing in $tmp"
	rm -rf "$lib"
	mv "$tmp" "$lib"
	echo "connect-mirror:$KAFKA_VERSION" >"$stamp"
	log "resolved $(find "$lib" -name '*.jar' | wc -l) jars"
}

if [[ ${1:-} == resolve-mm2 ]]; then
	resolve_mm2
	exit 0
fi

# resolve_rie: the AWS Lambda Runtime Interface Emulator (a Go module),
# built once into a cache dir, for the cold start through the emulator.
# Without it (no module proxy) the cold start is measured on a plain process.
resolve_rie() {
	local dir=${RIE_CACHE_DIR:-$HOME/.cache/mirrorless/rie}
	if [[ -x $dir/aws-lambda-rie ]]; then
		echo "$dir/aws-lambda-rie"
		return 0
	fi
	mkdir -p "$dir"
	log "building aws-lambda-rie into $dir (first run only)"
	if GOBIN=$dir go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest >&2; then
		echo "$dir/aws-lambda-rie"
	else
		log "could not build aws-lambda-rie: the cold start is measured without the emulator"
	fi
}

want_mm2=1
for ((i = 1; i <= $#; i++)); do
	a=${!i}
	case $a in
	-methods | --methods)
		j=$((i + 1))
		[[ ${!j:-} == *mm2* ]] || want_mm2=0
		;;
	-methods=* | --methods=*) [[ $a == *mm2* ]] || want_mm2=0 ;;
	esac
done
if ((want_mm2)); then
	resolve_mm2
	export MM2_LIB=$MM2_CACHE_DIR/lib
fi
if [[ -z ${BENCH_RIE:-} ]]; then
	BENCH_RIE=$(resolve_rie)
	export BENCH_RIE
fi

STARTED=0
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	if ((STARTED)); then
		log "stopping the pair in $KAFKA_PAIR_DIR"
		bash scripts/kafka-pair.sh stop || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${MIRROR_TEST_A:-} || -z ${MIRROR_TEST_B:-} ]]; then
	export KAFKA_PAIR_DIR=${KAFKA_PAIR_DIR:-${TMPDIR:-/tmp}/mirrorless-bench-compare-pair}
	export KAFKA_A_PORT=${KAFKA_A_PORT:-19292}
	export KAFKA_B_PORT=${KAFKA_B_PORT:-29292}
	export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms1g -Xmx2g}
	# A deleted topic's files are removed at once rather than a minute
	# later (the default), so that compare, which deletes each round's
	# topics and waits for their files to go, does not wait a minute per
	# round, nor have them removed while the next round copies. Yours,
	# if KAFKA_BROKER_PROPS sets it too, comes later and wins.
	export KAFKA_BROKER_PROPS="log.segment.delete.delay.ms=0${KAFKA_BROKER_PROPS:+ $KAFKA_BROKER_PROPS}"
	# idle10k keeps 10,000 partitions on each broker (W3 and T1: 2,000 on A
	# and up to 8,000 on B), one open file each, plus the broker's own.
	need=14000
	soft=$(ulimit -Sn)
	hard=$(ulimit -Hn)
	if [[ $soft != unlimited ]] && ((soft < need)); then
		if [[ $hard == unlimited ]] || ((hard >= need)); then
			ulimit -Sn "$need"
		else
			log "warning: ulimit -n is $soft (hard $hard); idle10k at full size needs about $need open files per broker"
		fi
	fi
	if bash scripts/kafka-pair.sh status >/dev/null 2>&1; then
		die "a pair is already running in $KAFKA_PAIR_DIR (ports $KAFKA_A_PORT/$KAFKA_B_PORT); stop it or set MIRROR_TEST_A/B to use it"
	fi
	log "starting a pair on 127.0.0.1:$KAFKA_A_PORT and :$KAFKA_B_PORT (heap $KAFKA_HEAP_OPTS)"
	STARTED=1
	pair_env=$(bash scripts/kafka-pair.sh start)
	eval "$pair_env"
else
	log "using the pair at $MIRROR_TEST_A / $MIRROR_TEST_B"
fi
export MIRROR_TEST_A MIRROR_TEST_B

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Built and started in the background rather than `go run` in the
# foreground: bash runs a trap only once its foreground command ends, and
# `go run` does not pass SIGTERM on, so a bench stopped mid-run used to
# leave the compare program and its MirrorMaker 2 JVM running. Now INT or
# TERM reaches compare, which stops MM2 (and any child) before exiting.
BIN_DIR=$(mktemp -d)
go -C localtest/bench build -o "$BIN_DIR/compare" ./compare # its own module
rc=0
"$BIN_DIR/compare" "$@" &
COMPARE_PID=$!
trap 'kill -TERM "$COMPARE_PID" 2>/dev/null; wait "$COMPARE_PID"; rm -rf "$BIN_DIR"; exit 130' INT TERM
wait "$COMPARE_PID" || rc=$?
rm -rf "$BIN_DIR"
exit "$rc"
