#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: typecheck, lint, unit and integration
# tests against real Kafka, OpenSearch, NATS and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
npm test
echo "[test] full suite wall time: $(( $(date +%s) - start )) s"
