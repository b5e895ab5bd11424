#!/usr/bin/env bash
# bench-reconcile.sh: measure the reconcile function on many topics
# (localtest/bench/reconcile; default 1,000 source topics x 12 partitions).
#
#   scripts/bench-reconcile.sh [FLAG...]     flags go to the Go program, e.g.
#                                            -topics 200 -partitions 6 -steady 5 -keep
#
# Without MIRROR_TEST_A/MIRROR_TEST_B it starts its own Kafka pair with
# scripts/kafka-pair.sh on ports other than the test pair's (so a `make test`
# running meanwhile is not disturbed), and stops it at the end. With them set
# it uses that pair and starts nothing.
#
# Environment (own pair only):
#   KAFKA_PAIR_DIR    state dir, default ${TMPDIR:-/tmp}/mirrorless-bench-pair
#   KAFKA_A_PORT      default 19192 (its controller: +1)
#   KAFKA_B_PORT      default 29192
#   KAFKA_HEAP_OPTS   default "-Xms1g -Xmx2g": at 12,000 partitions a single broker
#                     holds about 400 MB of old generation, too close to
#                     kafka-pair.sh's default -Xmx512m
#   KAFKA_VERSION     passed on to kafka-pair.sh (default there: 4.1.1)
#
# Each broker keeps one open file per partition (its active segment) and two
# memory maps (offset and time index): the script checks `ulimit -n` (and
# raises the soft limit when the hard one allows) and vm.max_map_count first.
# With its own pair it also reports each broker's peak heap (from a GC log)
# and open files. The table goes to stdout; progress to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { printf 'bench-reconcile: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

for a in "$@"; do
	case $a in
	-h | -help | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
		go -C localtest/bench run ./reconcile -h || true
		exit 0
		;;
	esac
done

# The sizes, read from the flags the Go program gets (for the limit checks).
topics=1000
partitions=12
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[$i]}
	next=${args[$((i + 1))]:-}
	case $a in
	-topics | --topics) topics=$next ;;
	-topics=* | --topics=*) topics=${a#*=} ;;
	-partitions | --partitions) partitions=$next ;;
	-partitions=* | --partitions=*) partitions=${a#*=} ;;
	esac
done
[[ $topics =~ ^[0-9]+$ && $partitions =~ ^[0-9]+$ ]] || die "-topics and -partitions must be numbers"
per_broker=$((topics * partitions))

STARTED=0
MON_PID=
PAIR=(scripts/kafka-pair.sh)
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	if [[ -n $MON_PID ]]; then
		kill "$MON_PID" 2>/dev/null || true
		wait "$MON_PID" 2>/dev/null || true
	fi
	if ((STARTED)); then
		log "stopping the pair in $KAFKA_PAIR_DIR"
		"${PAIR[@]}" stop || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${MIRROR_TEST_A:-} || -z ${MIRROR_TEST_B:-} ]]; then
	export KAFKA_PAIR_DIR=${KAFKA_PAIR_DIR:-${TMPDIR:-/tmp}/mirrorless-bench-pair}
	export KAFKA_A_PORT=${KAFKA_A_PORT:-19192}
	export KAFKA_B_PORT=${KAFKA_B_PORT:-29192}
	export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms1g -Xmx2g}
	export KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}

	# Open files: one per partition per broker, plus sockets, jars and
	# the metadata log; the brokers inherit this shell's limit.
	need=$((per_broker + 2000))
	soft=$(ulimit -Sn)
	hard=$(ulimit -Hn)
	if [[ $soft != unlimited ]] && ((soft < need)); then
		if [[ $hard == unlimited ]] || ((hard >= need)); then
			ulimit -Sn "$need"
			log "raised the open-file limit from $soft to $need"
		else
			die "each broker needs about $need open files for $per_broker partitions, but ulimit -n is $soft (hard limit $hard); raise it or bench fewer partitions"
		fi
	fi
	maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
	if ((maps > 0 && maps < 2 * per_broker + 5000)); then
		die "each broker maps two index files per partition: vm.max_map_count=$maps is too low for $per_broker partitions (need about $((2 * per_broker + 5000)))"
	fi

	if "${PAIR[@]}" status >/dev/null 2>&1; then
		die "a pair is already running in $KAFKA_PAIR_DIR (ports $KAFKA_A_PORT/$KAFKA_B_PORT); stop it (KAFKA_PAIR_DIR=$KAFKA_PAIR_DIR scripts/kafka-pair.sh stop) or set MIRROR_TEST_A/B to use it"
	fi
	# GC log per broker (%p: its pid), read at the end for the peak heap in use.
	export KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:+$KAFKA_JVM_OPTS }-Xlog:gc:file=$KAFKA_PAIR_DIR/gc-%p.log"
	log "starting a pair on 127.0.0.1:$KAFKA_A_PORT and :$KAFKA_B_PORT (heap $KAFKA_HEAP_OPTS, ulimit -n $(ulimit -Sn))"
	STARTED=1
	pair_env=$("${PAIR[@]}" start)
	eval "$pair_env"

	# Count the brokers' open files while the bench runs (cheap: no JVM tools).
	mon_log=$KAFKA_PAIR_DIR/open-files.log
	(
		while :; do
			for x in A B; do
				pid=$(cat "$KAFKA_PAIR_DIR/$x/pid" 2>/dev/null) || continue
				echo "$x $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
			done
			sleep 2
		done
	) >"$mon_log" 2>/dev/null &
	MON_PID=$!
else
	log "using the pair at $MIRROR_TEST_A / $MIRROR_TEST_B"
fi

# Built from the benchmarks' own module and run from here, so relative
# paths in the flags mean what they did.
BIN_DIR=$(mktemp -d)
go -C localtest/bench build -o "$BIN_DIR/reconcile" ./reconcile
rc=0
"$BIN_DIR/reconcile" "$@" || rc=$?
rm -rf "$BIN_DIR"

if [[ -n $MON_PID ]]; then
	kill "$MON_PID" 2>/dev/null || true
	wait "$MON_PID" 2>/dev/null || true
	MON_PID=
	for x in A B; do
		pid=$(cat "$KAFKA_PAIR_DIR/$x/pid" 2>/dev/null) || continue
		gc=$KAFKA_PAIR_DIR/gc-$pid.log
		# G1 pause lines end in "<before>M-><after>M(<committed>M) <time>ms".
		heap=$(grep -o '[0-9]*M->[0-9]*M([0-9]*M)' "$gc" 2>/dev/null |
			awk -F'[M>(-]+' '{if($1>b)b=$1; if($2>a)a=$2} END{if(NR)printf "peak heap in use %d MB, largest after a collection %d MB (%d collections)", b, a, NR; else printf "no collection logged"}')
		files=$(awk -v x="$x" '$1==x && $2>f{f=$2} END{print f+0}' "$mon_log")
		echo "- Broker $x (KAFKA_HEAP_OPTS=\"$KAFKA_HEAP_OPTS\"): $heap; peak open files $files (sampled every 2 s)."
	done
fi
exit "$rc"
