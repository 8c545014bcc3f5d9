#!/usr/bin/env bash
# Install (once) and start the local infrastructure: PostgreSQL and a single-node Kafka broker.
# Prints ONLY `export ...` lines on stdout, so this works:
#     eval "$(deploy/local/up.sh)"
# (in scripts prefer `exports="$(deploy/local/up.sh)"; eval "$exports"` so a failure is not lost).
# All progress goes to stderr. Safe to run twice; works from any cwd.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Keep the real stdout on fd 3 for the export lines; everything else goes to stderr.
exec 3>&1 1>&2

# The children get fd 3 closed, so background servers never hold the caller's `$(...)` pipe open.
phase() {
    local start=$SECONDS
    "$@" 3>&-
    echo "up: $(basename "$2") $3 took $((SECONDS - start)) s" >&2
}

phase bash "$HERE/postgres.sh" install
phase bash "$HERE/kafka.sh" install
phase bash "$HERE/postgres.sh" start
phase bash "$HERE/kafka.sh" start

{
    bash "$HERE/postgres.sh" env
    bash "$HERE/kafka.sh" env
} >&3
