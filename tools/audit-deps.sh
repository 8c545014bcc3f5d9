#!/usr/bin/env bash
# Audit the locked third-party Python dependencies for known vulnerabilities with pip-audit.
#
#   bash tools/audit-deps.sh            # exit 0: every dependency audited, none vulnerable
#                                       # exit 1: a known vulnerability not explained below
#                                       # exit 2: the audit could not be done (see the message)
#
# pip-audit answers "No known vulnerabilities found" and exit 0 even when it could not look a
# single package up (a registry mirror without PyPI's per-release JSON, or no route to OSV):
# that is not a pass, so this script counts the skipped packages and refuses to call it one.
#
# Explained vulnerabilities: one line per ID in tools/audit-ignore.txt, "ID  reason", reviewed
# when the lock changes. An ID there is passed to pip-audit as --ignore-vuln.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PIP_AUDIT_VERSION="2.10.1"
SERVICE="${PIP_AUDIT_SERVICE:-osv}"   # osv (api.osv.dev) or pypi (pypi.org per-release JSON)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# What is deployed: every workspace package's third-party dependencies, as locked (no dev tools).
uv export --frozen --all-packages --no-dev --no-emit-workspace --no-hashes --quiet \
    | grep -v '^\s*#' | grep -v '^\s*$' >"$work/requirements.txt"
echo "audit: $(wc -l <"$work/requirements.txt") locked packages, vulnerability service: $SERVICE"

ignores=()
if [ -f tools/audit-ignore.txt ]; then
    while read -r id _reason; do
        case "$id" in ''|'#'*) continue ;; esac
        ignores+=(--ignore-vuln "$id")
    done <tools/audit-ignore.txt
fi

set +e
uvx --quiet "pip-audit==$PIP_AUDIT_VERSION" -r "$work/requirements.txt" --no-deps --disable-pip \
    --vulnerability-service "$SERVICE" --progress-spinner off "${ignores[@]}" >"$work/out" 2>&1
rc=$?
set -e
cat "$work/out"

skipped="$(grep -c 'could not be audited' "$work/out" || true)"
if grep -qE 'ConnectionError|NameResolutionError|Max retries exceeded' "$work/out"; then
    echo "audit: NOT DONE: the vulnerability service ($SERVICE) could not be reached from here." >&2
    exit 2
fi
if [ "${skipped:-0}" -gt 0 ]; then
    echo "audit: NOT DONE: $skipped packages could not be looked up at $SERVICE (pip-audit skips" \
        "them and still says 'no known vulnerabilities'); this is not a pass." >&2
    exit 2
fi
if [ "$rc" -ne 0 ]; then
    echo "audit: known vulnerabilities found (above) that tools/audit-ignore.txt does not explain." >&2
    exit 1
fi
echo "audit: every locked package audited; no unexplained known vulnerability."
