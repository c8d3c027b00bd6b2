#!/usr/bin/env bash
# Sets everything up, then starts the three local regions and prints their endpoints.
# Extra arguments go to `georeplica up` (e.g. --brokers us-east=3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./bin/georeplica up "$@"
