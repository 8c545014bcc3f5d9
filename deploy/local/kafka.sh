#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft: broker + controller in one JVM, loopback only),
# assembled from Maven Central jars and run on the machine's Java 17. See shared/KAFKA.md.
#
#   deploy/local/kafka.sh install   resolve the broker's jars into the per-version cache (once)
#   deploy/local/kafka.sh start     format storage if needed, start in the background, wait ready
#   deploy/local/kafka.sh stop      SIGTERM, then SIGKILL after a grace period
#   deploy/local/kafka.sh status    exit 0 if running, 3 if not
#   deploy/local/kafka.sh env       print "export KAFKA_BOOTSTRAP_SERVERS=..."
#
# Environment: INCLUSION_RUN_DIR (default <repo>/.local), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), KAFKA_START_TIMEOUT (120 s), KAFKA_STOP_TIMEOUT (30 s),
# KAFKA_HEAP (512m), XDG_CACHE_HOME (jar cache root, default ~/.cache), JAVA_HOME.
# Progress goes to stderr; only `env` writes to stdout. Safe to run twice; works from any cwd.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
POM="$HERE/kafka/pom.xml"
LOG4J_CONF="$HERE/kafka/log4j2.properties"

RUN_DIR="${INCLUSION_RUN_DIR:-$REPO_ROOT/.local}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
KAFKA_RUN_DIR="$RUN_DIR/kafka"
DATA_DIR="$KAFKA_RUN_DIR/data"
CONFIG_FILE="$KAFKA_RUN_DIR/server.properties"
PID_FILE="$KAFKA_RUN_DIR/kafka.pid"
LOG_FILE="$KAFKA_RUN_DIR/kafka.log"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"

KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)"
[ -n "$KAFKA_VERSION" ] || { echo "kafka: cannot read <kafka.version> from $POM" >&2; exit 1; }
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/inclusion"
CACHE_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS_DIR="$CACHE_DIR/libs"
LIBS_MARKER="$LIBS_DIR/.complete"

log() { echo "kafka: $*" >&2; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}

pom_digest() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ready() { [ -f "$LIBS_MARKER" ] && [ "$(cat "$LIBS_MARKER")" = "$(pom_digest)" ]; }

apt_install() {
    # Install Debian packages (used only when a tool is missing). Needs root or sudo.
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2; then
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update >&2
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2
    fi
}

ensure_tools() {
    local missing=()
    local java version
    java="$(java_bin)"
    version=0
    if [ -n "$java" ]; then
        version="$("$java" -XshowSettings:properties -version 2>&1 \
            | sed -n 's/^ *java.specification.version = //p')"
    fi
    [ "${version:-0}" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
}

cmd_install() {
    if libs_ready; then
        log "jars for Kafka $KAFKA_VERSION already in $LIBS_DIR"
        return 0
    fi
    ensure_tools
    local tmp="$CACHE_DIR/libs.tmp.$$" start=$SECONDS
    mkdir -p "$CACHE_DIR"
    rm -rf "$tmp"
    log "resolving Kafka $KAFKA_VERSION jars from Maven Central (first time only) ..."
    # Maven's own repository sits beside the jar cache (Maven takes its home from passwd, not
    # $HOME), so one cache directory holds everything a CI cache needs to keep.
    if ! mvn -B -q --no-transfer-progress -Dstyle.color=never -Dmaven.repo.local="$CACHE_ROOT/m2" \
            -f "$POM" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 \
            | sed 's/\x1b\[[0-9;]*m//g' >&2; then
        rm -rf "$tmp"
        die "mvn could not resolve the broker's jars (see the output above)"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "kafka_2.13 jar missing after resolution"; }
    ls "$tmp"/log4j-core-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "log4j-core jar missing after resolution"; }
    pom_digest >"$tmp/.complete"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    log "resolved $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars into $LIBS_DIR in $((SECONDS - start)) s"
}

# --- process helpers -------------------------------------------------------------------------

running_pid() {
    # Print the broker's pid if the pid file names a live Kafka process started from our config.
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $CONFIG_FILE" || return 1
    echo "$pid"
}

port_open() { timeout 3 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

metadata_ok() {
    # A real Kafka protocol round-trip with the stdlib only: Metadata v1 for all topics; ready when
    # the reply lists at least one broker and a controller.
    command -v python3 >/dev/null || { grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; return; }
    python3 - "$KAFKA_PORT" <<'PY' 2>/dev/null
import socket, struct, sys
port = int(sys.argv[1])
client = b"inclusion-ready-probe"
body = struct.pack(">hhih", 3, 1, 7, len(client)) + client + struct.pack(">i", -1)
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.settimeout(5)
    s.sendall(struct.pack(">i", len(body)) + body)
    def read(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", read(4))
    data = read(size)
corr, nbrokers = struct.unpack_from(">ii", data, 0)
off = 8
for _ in range(nbrokers):
    off += 4
    (hlen,) = struct.unpack_from(">h", data, off); off += 2 + hlen
    off += 4
    (rlen,) = struct.unpack_from(">h", data, off); off += 2 + max(rlen, 0)
(controller,) = struct.unpack_from(">i", data, off)
sys.exit(0 if corr == 7 and nbrokers >= 1 and controller >= 0 else 1)
PY
}

is_ready() { port_open "$KAFKA_PORT" && metadata_ok; }

write_config() {
    cat >"$CONFIG_FILE" <<EOF
# Generated by deploy/local/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Local/test use only: production creates topics from deploy/'s topic list.
auto.create.topics.enable=true
EOF
}

log_tail() {
    echo "----- last 60 lines of $LOG_FILE -----" >&2
    tail -n 60 "$LOG_FILE" >&2 2>/dev/null || true
    echo "---------------------------------------" >&2
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        if is_ready; then
            log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
            return 0
        fi
        log "pid $pid is running but not ready yet; waiting"
        wait_ready "$pid"
        return 0
    fi
    rm -f "$PID_FILE"
    if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
        die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on 127.0.0.1 is taken by another process" \
            "(another Kafka from a different INCLUSION_RUN_DIR?); set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
    cmd_install
    local java
    java="$(java_bin)"
    [ -n "$java" ] || die "java not found (install openjdk-17-jdk-headless or set JAVA_HOME)"

    mkdir -p "$KAFKA_RUN_DIR"
    write_config
    local cp="$LIBS_DIR/*"
    if [ ! -f "$DATA_DIR/meta.properties" ]; then
        rm -rf "$DATA_DIR"
        mkdir -p "$DATA_DIR"
        local cluster_id
        cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
        log "formatting fresh storage in $DATA_DIR (cluster id $cluster_id)"
        if ! "$java" -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$cp" \
                kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_FILE" >&2 </dev/null; then
            rm -rf "$DATA_DIR"
            die "storage format failed"
        fi
    fi

    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
    {
        echo "===== $(date -u +%Y-%m-%dT%H:%M:%SZ) kafka.sh start ====="
    } >>"$LOG_FILE"
    # New session, no terminal, no inherited pipes (so `$(up.sh)` does not wait for the broker).
    # The inner shell writes its own pid and then execs the JVM, so the pid file names the JVM.
    # shellcheck disable=SC2016  # expanded by the inner shell, on purpose
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launch "$PID_FILE" \
        "$java" -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_CONF" \
        -cp "$cp" kafka.Kafka "$CONFIG_FILE" \
        </dev/null >>"$LOG_FILE" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    local _
    for _ in $(seq 1 50); do
        [ -s "$PID_FILE" ] && break
        sleep 0.1
    done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] || { log_tail; die "broker did not start (no pid)"; }
    wait_ready "$pid"
}

wait_ready() {
    local pid="$1" start=$SECONDS
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail
            rm -f "$PID_FILE"
            die "broker process $pid exited during start-up (log: $LOG_FILE)"
        fi
        if is_ready; then
            log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid) after $((SECONDS - start)) s"
            return 0
        fi
        if [ $((SECONDS - start)) -ge "$KAFKA_START_TIMEOUT" ]; then
            log_tail
            log "not ready after ${KAFKA_START_TIMEOUT} s: stopping the half-started broker"
            cmd_stop
            die "broker did not become ready within ${KAFKA_START_TIMEOUT} s (log: $LOG_FILE)"
        fi
        sleep 1
    done
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    log "stopping pid $pid (SIGTERM, ${KAFKA_STOP_TIMEOUT} s grace)"
    kill -TERM "$pid" 2>/dev/null || true
    local start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - start)) -ge "$KAFKA_STOP_TIMEOUT" ]; then
            log "still running after ${KAFKA_STOP_TIMEOUT} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.5
    done
    rm -f "$PID_FILE"
    log "stopped after $((SECONDS - start)) s"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        if is_ready; then
            log "running (pid $pid), ready on 127.0.0.1:$KAFKA_PORT; log $LOG_FILE"
        else
            log "running (pid $pid) but not answering on 127.0.0.1:$KAFKA_PORT; log $LOG_FILE"
        fi
        return 0
    fi
    log "not running"
    return 3
}

cmd_env() { echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"; }

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 {install|start|stop|status|env}" >&2; exit 2 ;;
esac
