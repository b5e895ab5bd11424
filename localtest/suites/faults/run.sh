#!/usr/bin/env bash
# localtest/suites/faults/run.sh [go test args...]: the fault suite on a Kafka pair
# of its own, since it kills and freezes brokers. make faults runs the long
# version of every case; scripts/test.sh (make test) the short version of
# the broker cases (MIRROR_FAULTS_LONG=0 -run ...); scripts/soak.sh TestSoak.
#   FAULTS_PAIR_DIR  state dir of that pair, default ${TMPDIR:-/tmp}/mirrorless-faults-pair
#   FAULTS_A_PORT / FAULTS_B_PORT  its client ports, default 19692 / 29692
#   MIRROR_FAULTS_LONG  1 (default) for the long version, 0 for the short one
# If a pair is already up there it is used and left running; one started
# here is stopped at the end. TestSoak runs only with MIRROR_SOAK_MINUTES
# (scripts/soak.sh); without it, it is left out here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export KAFKA_PAIR_DIR=${FAULTS_PAIR_DIR:-${TMPDIR:-/tmp}/mirrorless-faults-pair}
export KAFKA_A_PORT=${FAULTS_A_PORT:-19692}
export KAFKA_B_PORT=${FAULTS_B_PORT:-29692}
# A restarted broker waits out its dead incarnation's session: keep it short.
# Index files of 128 KiB: see scripts/test.sh (the disk's read-ahead on
# fresh partitions' memory-mapped indexes stalls the brokers for seconds).
export KAFKA_BROKER_PROPS=${KAFKA_BROKER_PROPS:-broker.session.timeout.ms=3000 log.index.size.max.bytes=131072}
started=0
if ! bash scripts/kafka-pair.sh status >/dev/null 2>&1; then
	started=1
	trap 'bash scripts/kafka-pair.sh stop >&2 || true' EXIT
fi
eval "$(bash scripts/kafka-pair.sh start)"
export MIRROR_TEST_A MIRROR_TEST_B
# MIRROR_FAULTS_OWN_PAIR: the broker cases may kill and freeze this pair.
export CI=true MIRROR_FAULTS_OWN_PAIR=1 MIRROR_FAULTS_LONG=${MIRROR_FAULTS_LONG:-1}
skip=()
[ -n "${MIRROR_SOAK_MINUTES:-}" ] || skip=(-skip '^TestSoak$')
echo "fault suite on $MIRROR_TEST_A / $MIRROR_TEST_B (pair started here: $started, long: $MIRROR_FAULTS_LONG)" >&2
go test -race -count=1 -timeout 120m -v "${skip[@]}" ./localtest/suites/faults "$@" 2>&1 | tee "${FAULTS_LOG:-/dev/null}" | grep -E '^(=== RUN|--- |PASS|FAIL|ok )|_test.go:[0-9]+: '
exit "${PIPESTATUS[0]}"
