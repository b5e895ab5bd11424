#!/usr/bin/env bash
# scripts/soak.sh [MINUTES]: steady load for MINUTES (default 30) on a Kafka
# pair of its own, with the three programs on their schedules and, every
# 20-40 s, a fault: a program SIGKILLed, a broker SIGKILLed and restarted, or
# frozen (SIGSTOP) past the timeouts and resumed. It ends with the full
# verification (every record exactly once by sequence numbers per partition,
# checkpoints monotonic) and exits non-zero if anything was lost, duplicated
# or went back. The full log goes to ${SOAK_LOG:-/tmp/mirrorless-soak.log}.
# The pair: FAULTS_PAIR_DIR, FAULTS_A_PORT, FAULTS_B_PORT (localtest/suites/faults/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: MINUTES must be a positive whole number, got '$minutes'" >&2; exit 2; }
export MIRROR_SOAK_MINUTES=$minutes
export FAULTS_LOG=${SOAK_LOG:-/tmp/mirrorless-soak.log}
echo "soak: $minutes minutes, log in $FAULTS_LOG" >&2
exec bash localtest/suites/faults/run.sh -run '^TestSoak$' -timeout "$((minutes + 30))m"
