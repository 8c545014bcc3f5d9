#!/usr/bin/env bash
# Local PostgreSQL for development and tests: the project's OWN cluster (not Debian's default
# one), in the run dir, listening on 127.0.0.1 only, with one database per service.
#
#   deploy/local/postgres.sh install   apt-get install postgresql (skipped when initdb exists)
#   deploy/local/postgres.sh start     initdb if needed, start, wait ready, create role + databases
#   deploy/local/postgres.sh stop      fast shutdown (immediate if that hangs)
#   deploy/local/postgres.sh status    exit 0 if running, 3 if not
#   deploy/local/postgres.sh env       print the export lines for the database URLs
#
# Environment: INCLUSION_RUN_DIR (default <repo>/.local), POSTGRES_PORT (55432).
# Progress goes to stderr; only `env` writes to stdout. Safe to run twice; works from any cwd.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
RUN_DIR="${INCLUSION_RUN_DIR:-$REPO_ROOT/.local}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
PG_PORT="${POSTGRES_PORT:-55432}"
PG_HOST=127.0.0.1
DB_USER=inclusion
DB_PASSWORD=inclusion
DATABASES=(referral cme exclusions enforcement reporting inclusion_test)
SERVICES=(referral cme exclusions enforcement reporting)

log() { echo "postgres: $*" >&2; }
die() { echo "postgres: ERROR: $*" >&2; exit 1; }

pg_bin_dir() {
    # Highest installed major version.
    local d
    d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n1)"
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# Run a command as the database's OS user: `postgres` when we are root (initdb refuses root),
# otherwise the current user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Where the cluster lives. When root runs this and the postgres user cannot reach the run dir
# (e.g. a checkout under /root), fall back to a directory under /var/tmp keyed by the run dir.
pg_base() {
    local base="$RUN_DIR/postgres"
    if [ "$(id -u)" -eq 0 ]; then
        mkdir -p "$base"
        chown postgres: "$base"
        if ! runuser -u postgres -- test -w "$base"; then
            base="/var/tmp/inclusion-postgres-$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)"
            # A fresh run dir must not pick up a stopped cluster left by an earlier checkout.
            if [ ! -f "$RUN_DIR/postgres/REAL_LOCATION" ] && [ -d "$base" ] \
                && ! as_pg "$BIN/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
                rm -rf "$base"
            fi
            mkdir -p "$base"
            chown postgres: "$base"
            chmod 700 "$base"
            printf '%s\n' "$base" >"$RUN_DIR/postgres/REAL_LOCATION"
        fi
    else
        mkdir -p "$base"
    fi
    echo "$base"
}

setup_paths() {
    BIN="$(pg_bin_dir)" || die "PostgreSQL is not installed (run: $0 install)"
    BASE="$(pg_base)"
    PGDATA="$BASE/data"
    SOCKET_DIR="$BASE/run"
    LOG_FILE="$BASE/postgres.log"
}

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Update the package lists once if they are empty; otherwise only if the install fails.
    if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update >&2
    fi
    if ! "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2; then
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update >&2
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2
    fi
}

cmd_install() {
    if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        log "already installed ($(pg_bin_dir))"
        return 0
    fi
    log "installing Debian's postgresql"
    apt_install postgresql
    pg_bin_dir >/dev/null || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

is_running() { as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

psql_admin() {
    as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres "$@"
}

init_cluster() {
    log "initdb into $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGDATA"; fi
    chmod 700 "$PGDATA"
    as_pg "$BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<EOF

# ---- deploy/local/postgres.sh: local development and test settings ----
listen_addresses = '$PG_HOST'
max_connections = 300
shared_buffers = 128MB
fsync = on
synchronous_commit = off
password_encryption = 'scram-sha-256'
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
timezone = 'UTC'
log_timezone = 'UTC'
EOF
    # Only loopback TCP (password) and the private socket (trust, directory is 0700).
    cat >"$PGDATA/pg_hba.conf" <<EOF
# Generated by deploy/local/postgres.sh
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
EOF
}

ensure_role_and_databases() {
    psql_admin -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END
\$\$;
-- Tests drop their databases WITH (FORCE); an autovacuum worker (a superuser backend) may be
-- connected at that moment, and ending it needs pg_signal_backend. Local clusters only.
GRANT pg_signal_backend TO $DB_USER;
SELECT format('CREATE DATABASE %I OWNER %I', d, '$DB_USER')
  FROM unnest(string_to_array('${DATABASES[*]}', ' ')) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
SQL
}

wait_ready() {
    local start=$SECONDS
    until as_pg "$BIN/pg_isready" -q -h "$SOCKET_DIR" -p "$PG_PORT" \
        && "$BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT"; do
        if [ $((SECONDS - start)) -ge 60 ]; then
            tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
            die "not ready after 60 s (log: $LOG_FILE)"
        fi
        sleep 0.5
    done
}

cmd_start() {
    cmd_install
    setup_paths
    mkdir -p "$SOCKET_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$SOCKET_DIR"; fi
    chmod 700 "$SOCKET_DIR"
    if is_running; then
        log "already running (port $PG_PORT, data $PGDATA)"
    else
        [ -f "$PGDATA/PG_VERSION" ] || init_cluster
        if (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null; then
            die "port $PG_PORT on $PG_HOST is taken by another process; set POSTGRES_PORT"
        fi
        log "starting on $PG_HOST:$PG_PORT (data $PGDATA, log $LOG_FILE)"
        touch "$LOG_FILE"
        if [ "$(id -u)" -eq 0 ]; then chown postgres: "$LOG_FILE"; fi
        # -o overrides the port and socket dir each start, so POSTGRES_PORT may change later.
        if ! as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$LOG_FILE" -w -t 60 \
                -o "-p $PG_PORT -k $SOCKET_DIR" start >&2 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; then
            tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
            die "pg_ctl start failed (log: $LOG_FILE)"
        fi
    fi
    wait_ready
    ensure_role_and_databases
    log "ready: role $DB_USER, databases ${DATABASES[*]}"
}

cmd_stop() {
    BIN="$(pg_bin_dir)" || { log "not installed"; return 0; }
    BASE="$(pg_base)"
    PGDATA="$BASE/data"
    if [ ! -f "$PGDATA/PG_VERSION" ] || ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping"
    if ! as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >&2; then
        log "fast shutdown did not finish: immediate"
        as_pg "$BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 30 stop >&2
    fi
}

cmd_status() {
    BIN="$(pg_bin_dir)" || { log "not installed"; return 3; }
    BASE="$(pg_base)"
    PGDATA="$BASE/data"
    if [ -f "$PGDATA/PG_VERSION" ] && is_running; then
        log "running on $PG_HOST:$PG_PORT (data $PGDATA)"
        return 0
    fi
    log "not running"
    return 3
}

cmd_env() {
    local base="postgresql://$DB_USER:$DB_PASSWORD@$PG_HOST:$PG_PORT"
    local async="postgresql+asyncpg://$DB_USER:$DB_PASSWORD@$PG_HOST:$PG_PORT"
    echo "export INCLUSION_POSTGRES_URL=$base/postgres"
    local s
    for s in "${SERVICES[@]}"; do
        echo "export $(echo "$s" | tr '[:lower:]' '[:upper:]')_DATABASE_URL=$async/$s"
    done
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 {install|start|stop|status|env}" >&2; exit 2 ;;
esac
