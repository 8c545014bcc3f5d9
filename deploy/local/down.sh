#!/usr/bin/env bash
# Stop the local infrastructure started by up.sh (Kafka first, then PostgreSQL). Data is kept in
# the run dir (${INCLUSION_RUN_DIR:-<repo>/.local}); delete it for a clean slate. Safe to run twice.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
bash "$HERE/kafka.sh" stop || rc=$?
bash "$HERE/postgres.sh" stop || rc=$?
exit "$rc"
