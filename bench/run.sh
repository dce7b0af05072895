#!/usr/bin/env bash
# Portcullis vs its Debian peers (HAProxy, hitch, stunnel, nginx stream), side by side on this machine, in
# one run: same certificates, same ciphers, same worker count (2) where a server has that notion, same
# plaintext backend. Method, parity table and caveats: bench/README.md.
#
#   bench/run.sh                      # everything (about 11 minutes, plus the first release build)
#   BENCH_QUICK=1 bench/run.sh        # smoke run: 1 s per figure, 1 round, 200 idle connections (~3 minutes)
#   BENCH_PARTS=memory bench/run.sh   # only the idle-connection memory figures ("rates" = the others)
#   BENCH_DURATION=3 bench/run.sh     # shorter figures
#   BENCH_SERVERS="haproxy portcullis" bench/run.sh
#   PORTCULLIS_BIN=/path/portcullis BENCH_SKIP_BUILD=1 bench/run.sh
#   BENCH_NICE=-10 bench/run.sh       # on a busy machine: run the benchmark at a higher priority
#   BENCH_UPDATE_README=1 bench/run.sh # also put the summary table into bench/README.md
#
# Results go to bench/results/<UTC timestamp>/ (summary.txt, summary.md, raw.tsv, logs/, work/).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$BENCH_DIR/results/$STAMP}
W=$OUT/work
LOGS=$OUT/logs
mkdir -p "$W" "$LOGS" "$BENCH_DIR/results/bin"

# BENCH_QUICK=1: a smoke run that proves every server serves every figure (numbers are not meant to be compared).
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then DEF_DURATION=1 DEF_ROUNDS=1 DEF_IDLE="200"; else DEF_DURATION=3 DEF_ROUNDS=2 DEF_IDLE="1000 9000"; fi
DURATION=${BENCH_DURATION:-$DEF_DURATION}   # seconds measured per figure, server and round
ROUNDS=${BENCH_ROUNDS:-$DEF_ROUNDS}         # rounds per figure (the servers' order rotates within each)
WARMUP=${BENCH_WARMUP:-1}            # seconds run before measuring
WORKERS=2                            # HAProxy nbthread == hitch workers == nginx worker_processes == Portcullis workers
HS_THREADS=2                         # load client threads for handshake figures
HS_CONNS=${BENCH_HS_CONNS:-16}       # handshakes in flight
IDLE_COUNTS=(${BENCH_IDLE_COUNTS:-$DEF_IDLE})
ALL_SERVERS=(haproxy hitch stunnel nginx portcullis)
SERVERS=(${BENCH_SERVERS:-${ALL_SERVERS[*]}})
PORT_BASE=${BENCH_PORT_BASE:-24400}
PARTS=" ${BENCH_PARTS:-rates memory} "   # "rates" (handshakes, bulk) and/or "memory" (idle connections)
declare -A DISPLAY=([haproxy]=HAProxy [hitch]=hitch [stunnel]=stunnel [nginx]=nginx [portcullis]=Portcullis)
for s in "${SERVERS[@]}"; do
    [ -n "${DISPLAY[$s]:-}" ] || { echo "unknown server '$s' in BENCH_SERVERS (known: ${ALL_SERVERS[*]})" >&2; exit 2; }
done

CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
SUITES="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
# The client offers exactly one suite per version, so every server negotiates the same one.
CLIENT_CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
CLIENT_SUITES="TLS_AES_128_GCM_SHA256"

exec > >(tee -a "$OUT/run.log") 2>&1
T_START=$(date +%s)
say() { printf '[%4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*"; }

# ---------------------------------------------------------------------------------------------------
# Processes: every one we start is recorded and stopped on exit, by pid.
PIDS=()
declare -A SERVER_PID=()
forget_pid() {   # after a child was waited for, its pid may be reused: never signal it again
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}
POLICY_RC_CREATED=0
cleanup() {
    local pid s
    trap '' INT TERM   # a second Ctrl-C must not interrupt the clean-up
    # Servers first: stop_server also reaps their worker processes (nginx, hitch), which are not our children.
    for s in "${!SERVER_PID[@]}"; do stop_server "$s"; done
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.3
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    (( POLICY_RC_CREATED )) && rm -f /usr/sbin/policy-rc.d
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# Dependencies
want() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }
NGINX_STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so
missing=()
want haproxy && { command -v haproxy >/dev/null || missing+=(haproxy); }
want hitch && { command -v hitch >/dev/null || missing+=(hitch); }
want stunnel && { command -v stunnel4 >/dev/null || command -v stunnel >/dev/null || missing+=(stunnel4); }
if want nginx; then
    command -v nginx >/dev/null || missing+=(nginx)
    # Debian builds the stream module as a dynamic module in its own package.
    if ! command -v nginx >/dev/null || { nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' && [ ! -f "$NGINX_STREAM_SO" ]; }; then
        missing+=(libnginx-mod-stream)
    fi
fi
command -v gcc >/dev/null || missing+=(gcc)
command -v openssl >/dev/null || missing+=(openssl)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v ss >/dev/null || missing+=(iproute2)
command -v pgrep >/dev/null || missing+=(procps)
if (( ${#missing[@]} )); then
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]} (install them, or run as root)" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    # Debian's maintainer scripts would start nginx, hitch and stunnel as system services; a policy-rc.d
    # that answers 101 stops that (Docker images ship one). Ours is removed again right after.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from bench/run.sh: no service starts during apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt-get update -qq >"$LOGS/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
        || { echo "apt-get install failed, see $LOGS/apt.log" >&2; exit 1; }
    if (( POLICY_RC_CREATED )); then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
fi
STUNNEL_BIN=$(command -v stunnel4 || command -v stunnel || echo stunnel4)

# File descriptors: a proxy needs two per connection (client + backend).
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n 65536 2>/dev/null || ulimit -n "$hard"
NOFILE=$(ulimit -n)
MAXCONN=$(( (NOFILE - 200) / 2 ))
(( MAXCONN > 9500 )) && MAXCONN=9500
for i in "${!IDLE_COUNTS[@]}"; do
    if (( IDLE_COUNTS[i] > MAXCONN - 100 )); then
        say "WARNING: open-files limit $NOFILE allows only $((MAXCONN - 100)) idle connections, not ${IDLE_COUNTS[i]}"
        IDLE_COUNTS[i]=$(( MAXCONN - 100 ))
    fi
done

# ---------------------------------------------------------------------------------------------------
# Builds
TLSLOAD=$BENCH_DIR/results/bin/tlsload
say "compiling tlsload"
gcc -O2 -Wall -Wextra -o "$TLSLOAD" "$BENCH_DIR/tlsload.c" -lssl -lcrypto -lpthread || { echo "tlsload did not compile" >&2; exit 1; }

declare -A UNAVAILABLE=()
PC_BIN=${PORTCULLIS_BIN:-}
if [[ " ${SERVERS[*]} " == *" portcullis "* ]]; then
    if [ -z "$PC_BIN" ]; then
        if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
            say "swift build -c release --product portcullis (log: logs/swift-build.log)"
            t0=$(date +%s)
            if ! (cd "$ROOT" && swift build -c release --product portcullis) >"$LOGS/swift-build.log" 2>&1; then
                UNAVAILABLE[portcullis]="release build failed: $(grep -m1 -E 'error:' "$LOGS/swift-build.log" | cut -c1-160)"
            fi
            say "swift build took $(( $(date +%s) - t0 ))s"
        fi
        PC_BIN="$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null)/portcullis"
    fi
    if [ -z "${UNAVAILABLE[portcullis]:-}" ] && [ ! -x "$PC_BIN" ]; then
        UNAVAILABLE[portcullis]="no binary at $PC_BIN"
    fi
fi

# Optional: BENCH_NICE=-10 raises the priority of everything started from here on (servers, backend, load
# client), so that other work on a shared machine disturbs the figures less. Off by default.
NICE_NOTE=""
if [ -n "${BENCH_NICE:-}" ]; then
    if renice -n "$BENCH_NICE" -p $$ >/dev/null 2>&1; then NICE_NOTE="benchmark processes at nice $BENCH_NICE"; else say "WARNING: renice $BENCH_NICE failed"; fi
fi

# ---------------------------------------------------------------------------------------------------
# Ports, certificates, configurations
# The backend, then an RSA and an ECDSA port per known server (fixed offsets, whichever servers run).
N_PORTS=$(( 1 + 2 * ${#ALL_SERVERS[@]} ))
port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
for _ in $(seq 1 40); do
    ok=1
    for p in $(seq "$PORT_BASE" $((PORT_BASE + N_PORTS - 1))); do port_free "$p" || ok=0; done
    (( ok )) && break
    PORT_BASE=$(( PORT_BASE + 20 ))
done
BACKEND_PORT=$PORT_BASE
declare -A PORT_RSA=() PORT_EC=()
for i in "${!ALL_SERVERS[@]}"; do
    PORT_RSA[${ALL_SERVERS[i]}]=$(( PORT_BASE + 1 + 2 * i ))
    PORT_EC[${ALL_SERVERS[i]}]=$(( PORT_BASE + 2 + 2 * i ))
done
SNI_RSA=rsa.bench.test
SNI_EC=ec.bench.test

say "certificates: RSA-2048 ($SNI_RSA) and ECDSA P-256 ($SNI_EC), self-signed"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/rsa.key" -out "$W/rsa.crt" -days 30 \
    -subj "/CN=$SNI_RSA" -addext "subjectAltName=DNS:$SNI_RSA" >"$LOGS/openssl.log" 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ec.key" -out "$W/ec.crt" -days 30 \
    -subj "/CN=$SNI_EC" -addext "subjectAltName=DNS:$SNI_EC" >>"$LOGS/openssl.log" 2>&1
chmod 600 "$W/rsa.key" "$W/ec.key"
cat "$W/rsa.crt" "$W/rsa.key" >"$W/rsa.pem"
cat "$W/ec.crt" "$W/ec.key" >"$W/ec.pem"
chmod 600 "$W/rsa.pem" "$W/ec.pem"

# Every server gets the same settings where it has them (the parity table in bench/README.md says where one
# cannot match): TLS 1.2 minimum, the same cipher and TLS 1.3 suite lists, a session cache of 20480 entries
# for 300 s plus tickets, no per-connection logging, client/server idle timeout 300 s, connect 5 s,
# handshake 10 s, one plaintext backend, 2 workers.
cat >"$W/haproxy.cfg" <<EOF
# Generated by bench/run.sh
global
    pidfile $W/haproxy.pid
    nbthread $WORKERS
    maxconn $MAXCONN
    tune.ssl.cachesize 20480
    tune.ssl.lifetime 300
    ssl-default-bind-ciphers $CIPHERS
    ssl-default-bind-ciphersuites $SUITES
    ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    maxconn $MAXCONN

frontend bench_rsa
    bind 127.0.0.1:${PORT_RSA[haproxy]} ssl crt $W/rsa.pem
    default_backend app

frontend bench_ec
    bind 127.0.0.1:${PORT_EC[haproxy]} ssl crt $W/ec.pem
    default_backend app

backend app
    server app1 127.0.0.1:$BACKEND_PORT
EOF

# Schema: README.md ("Configuration reference") (keys as read by Sources/PortcullisCore/Config/ConfigurationLoader.swift).
# Same settings as HAProxy above: workers, connection limit, ciphers, session cache size and lifetime,
# tickets on, no access log (HAProxy has no 'log' line), timeouts.
cat >"$W/portcullis.toml" <<EOF
# Generated by bench/run.sh
[global]
workers = $WORKERS
max_connections = $MAXCONN
log_level = "warning"
access_log = "off"
handshake_timeout = "10s"
idle_timeout = "300s"
connect_timeout = "5s"

[[host]]
name = "bench-rsa"
names = ["$SNI_RSA"]
certificate = "$W/rsa.crt"
key = "$W/rsa.key"
backend = ["127.0.0.1:$BACKEND_PORT"]
min_version = "TLSv1.2"
ciphers = "$CIPHERS"
ciphersuites = "$SUITES"

[[host]]
name = "bench-ec"
names = ["$SNI_EC"]
certificate = "$W/ec.crt"
key = "$W/ec.key"
backend = ["127.0.0.1:$BACKEND_PORT"]
min_version = "TLSv1.2"
ciphers = "$CIPHERS"
ciphersuites = "$SUITES"

[[listener]]
name = "bench-rsa"
listen = ["127.0.0.1:${PORT_RSA[portcullis]}"]
hosts = ["bench-rsa"]
default_host = "bench-rsa"
session_cache_size = 20480
session_timeout = "300s"
session_tickets = true

[[listener]]
name = "bench-ec"
listen = ["127.0.0.1:${PORT_EC[portcullis]}"]
hosts = ["bench-ec"]
default_host = "bench-ec"
session_cache_size = 20480
session_timeout = "300s"
session_tickets = true
EOF

# hitch 1.7: one frontend per port, each with its own PEM (certificate + key). No session-cache setting in
# Debian's build (OpenSSL's internal cache per worker process, OpenSSL's default size and lifetime), no idle timeout, no
# connection limit; its handshake and backend-connect timeouts are built in (1.7's configuration grammar has
# no keys for them). ocsp-dir = "": no OCSP-fetching helper process (no responder to ask here).
# hitch refuses to run its workers as root: as root they drop to nobody (nginx's workers do the same by default).
HITCH_USER=""
if [ "$(id -u)" = 0 ]; then
    HITCH_USER="user = \"nobody\""
    getent group nogroup >/dev/null && HITCH_USER+=$'\ngroup = "nogroup"'
fi
cat >"$W/hitch.conf" <<EOF
# Generated by bench/run.sh
frontend = {
    host = "127.0.0.1"
    port = "${PORT_RSA[hitch]}"
    pem-file = "$W/rsa.pem"
}
frontend = {
    host = "127.0.0.1"
    port = "${PORT_EC[hitch]}"
    pem-file = "$W/ec.pem"
}
backend = "[127.0.0.1]:$BACKEND_PORT"
workers = $WORKERS
backlog = 511
daemon = off
tls-protos = TLSv1.2 TLSv1.3
ciphers = "$CIPHERS"
ciphersuites = "$SUITES"
log-level = 1
syslog = off
ocsp-dir = ""
$HITCH_USER
EOF

# stunnel 5.68: one process, one thread per connection (no worker count). One service per port. It has no
# handshake timeout of its own (TIMEOUTbusy covers a stalled handshake) and no connection limit.
# TIMEOUTclose stays at its default (60 s, only used when stunnel closes first; here the client does): set to 0,
# stunnel logs an error line for every connection.
{
    cat <<EOF
; Generated by bench/run.sh
foreground = yes
pid = $W/stunnel.pid
syslog = no
debug = warning
EOF
    for kind in rsa ec; do
        if [ "$kind" = rsa ]; then port=${PORT_RSA[stunnel]}; else port=${PORT_EC[stunnel]}; fi
        cat <<EOF

[bench-$kind]
accept = 127.0.0.1:$port
connect = 127.0.0.1:$BACKEND_PORT
cert = $W/$kind.crt
key = $W/$kind.key
sslVersionMin = TLSv1.2
ciphers = $CIPHERS
ciphersuites = $SUITES
sessionCacheSize = 20480
sessionCacheTimeout = 300
TIMEOUTbusy = 300
TIMEOUTidle = 300
TIMEOUTconnect = 5
EOF
    done
} >"$W/stunnel.conf"

# nginx 1.22 stream: master + 2 single-threaded workers. The session cache is a shared-memory zone sized in
# bytes (about 4000 sessions per MB: 5m ~ 20000 sessions). worker_connections is per worker and counts
# both legs of a proxied connection; nginx has no global limit, so each worker may take all of them.
NGINX_LOAD_MODULE=""
if command -v nginx >/dev/null && nginx -V 2>&1 | grep -q -- '--with-stream=dynamic'; then
    NGINX_LOAD_MODULE="load_module $NGINX_STREAM_SO;"
fi
cat >"$W/nginx.conf" <<EOF
# Generated by bench/run.sh
$NGINX_LOAD_MODULE
daemon off;
master_process on;
worker_processes $WORKERS;
worker_rlimit_nofile $NOFILE;
pid $W/nginx.pid;
error_log $LOGS/nginx.log warn;

events {
    worker_connections $(( 2 * MAXCONN + 100 ));
}

stream {
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers $CIPHERS;
    ssl_conf_command Ciphersuites $SUITES;
    ssl_session_cache shared:SSL:5m;
    ssl_session_timeout 300s;
    ssl_session_tickets on;
    ssl_handshake_timeout 10s;
    proxy_connect_timeout 5s;
    proxy_timeout 300s;
    access_log off;

    upstream app {
        server 127.0.0.1:$BACKEND_PORT;
    }
    server {
        listen 127.0.0.1:${PORT_RSA[nginx]} ssl;
        ssl_certificate $W/rsa.crt;
        ssl_certificate_key $W/rsa.key;
        proxy_pass app;
    }
    server {
        listen 127.0.0.1:${PORT_EC[nginx]} ssl;
        ssl_certificate $W/ec.crt;
        ssl_certificate_key $W/ec.key;
        proxy_pass app;
    }
}
EOF

# ---------------------------------------------------------------------------------------------------
# Environment
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
declare -A SERVER_VERSION=()
for s in "${SERVERS[@]}"; do
    case $s in
        haproxy) v=$(haproxy -v 2>/dev/null | head -1 | sed 's/ - https.*//') ;;
        hitch) v="hitch $(hitch --version 2>&1 | awk '{print $2; exit}') (Debian $(deb_version hitch))" ;;
        stunnel) v="$("$STUNNEL_BIN" -version 2>&1 | grep -m1 -o 'stunnel [0-9.]*') (Debian $(deb_version stunnel4))" ;;
        nginx) v="$(nginx -v 2>&1 | sed 's/.*version: //') (Debian $(deb_version nginx), stream module $(deb_version libnginx-mod-stream))" ;;
        *) continue ;;
    esac
    SERVER_VERSION[$s]=$v
done
OPENSSL_VERSION=$(openssl version)
PC_VERSION="n/a"
if [ -z "${UNAVAILABLE[portcullis]:-}" ] && [ -n "$PC_BIN" ] && [ -x "$PC_BIN" ]; then
    PC_VERSION=$("$PC_BIN" version 2>&1 | head -1)
fi
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
CPU_MODEL=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
busy_sample() {   # other heavy work on the machine: compilers and load average
    local n
    n=$(pgrep -c -f 'swift-frontend|swift-build|swiftc|clang|cc1|/ld( |$)|lld' 2>/dev/null || true)
    echo "${n:-0} $(cut -d' ' -f1 /proc/loadavg)"
}
MAX_COMPILERS=0
LOADS=()
note_busy() {
    local s c l
    s=$(busy_sample); c=${s% *}; l=${s#* }
    (( c > MAX_COMPILERS )) && MAX_COMPILERS=$c
    LOADS+=("$l")
}
note_busy
say "machine: $(nproc) cores, $CPU_MODEL; load $(cut -d' ' -f1-3 /proc/loadavg); open files $NOFILE; maxconn $MAXCONN"
VERSIONS=""
for s in "${SERVERS[@]}"; do [ -n "${SERVER_VERSION[$s]:-}" ] && VERSIONS+="${SERVER_VERSION[$s]}; "; done
VERSIONS+="$OPENSSL_VERSION; portcullis: $PC_VERSION (git $GIT_REV)"
say "$VERSIONS"

# Expected length of the run, from per-step costs seen on a 2-core machine: each of the 12 rate figures runs
# warm-up + duration per server and round (+0.3 s client start-up, +0.3 s more for the backend-connection
# count of the 8 handshake figures); memory restarts every server (~4 s with its warm-up) and opens the idle
# connections at roughly 800 per second (+4 s settle and close per count).
estimate_seconds() {
    local n=${#SERVERS[@]} c total=$(( ${#SERVERS[@]} * 2 ))
    if [[ "$PARTS" == *" rates "* ]]; then
        total=$(( total + $(awk -v n="$n" -v r="$ROUNDS" -v w="$WARMUP" -v d="$DURATION" 'BEGIN{printf "%d", n * r * (12 * (w + d + 0.3) + 8 * 0.3)}') ))
    fi
    if [[ "$PARTS" == *" memory "* ]]; then
        total=$(( total + n * 4 ))
        for c in "${IDLE_COUNTS[@]}"; do total=$(( total + n * (c / 800 + 4) )); done
    fi
    echo "$total"
}
EST=$(estimate_seconds)
say "estimated run time: about $(( (EST + 59) / 60 )) minutes ($EST s) for ${#SERVERS[@]} servers, $ROUNDS round(s) x (${WARMUP}s + ${DURATION}s) per figure, idle counts ${IDLE_COUNTS[*]}${QUICK:+$( [ "$QUICK" = 1 ] && echo '; QUICK smoke run')}"

# ---------------------------------------------------------------------------------------------------
# Servers
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

BACKEND_PID=""
start_backend() {
    "$TLSLOAD" backend --port "$BACKEND_PORT" >"$LOGS/backend.log" 2>&1 &
    BACKEND_PID=$!
    PIDS+=($!)
    for _ in $(seq 1 50); do listening "$BACKEND_PORT" && return 0; sleep 0.1; done
    echo "backend did not start: $(cat "$LOGS/backend.log")" >&2
    exit 1
}

descendants() {   # pid -> its children, grandchildren, ... (one per line)
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}

server_pids() {   # the server process and all its descendants (nginx and hitch: master + workers)
    local pid=${SERVER_PID[$1]:-}
    [ -n "$pid" ] || return 0
    echo "$pid"
    descendants "$pid"
}

# Resident memory of all the server's processes, KiB, from /proc/PID/smaps_rollup. Rss summed over a master
# and its forked workers counts pages they share (libraries, copy-on-write heap, shared-memory zones) once per
# process: the baseline of a multi-process server is overstated, but what a new connection allocates lives in
# one process, so the per-connection difference is right. Pss splits shared pages between their users: it
# is the fair baseline, but it moves when unrelated processes map the same libraries (the load client maps
# libcrypto too), so it is only shown, not used for the per-connection figure.
mem_kb() {   # server field(Rss|Pss)
    local total=0 pid v
    for pid in $(server_pids "$1"); do
        v=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
        [ -z "$v" ] && [ "$2" = Rss ] && v=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null)
        total=$(( total + ${v:-0} ))
    done
    echo "$total"
}
rss_kb() { mem_kb "$1" Rss; }
pss_kb() { mem_kb "$1" Pss; }

stop_server() {
    local name=$1 pid=${SERVER_PID[$1]:-}
    [ -n "$pid" ] || return 0
    # Workers are the master's children, not ours: note them (and their name) before the master goes.
    local kids k comm
    kids=$(descendants "$pid")
    comm=$(cat "/proc/$pid/comm" 2>/dev/null)
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    forget_pid "$pid"
    SERVER_PID[$name]=""
    for k in $kids; do
        for _ in $(seq 1 20); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done
        # Still there after its master exited: kill it, if the pid still names one of this server's processes.
        if kill -0 "$k" 2>/dev/null && [ -n "$comm" ] && [ "$(cat "/proc/$k/comm" 2>/dev/null)" = "$comm" ]; then
            say "WARNING: $name worker $k outlived its master; killing it"
            kill -KILL "$k" 2>/dev/null
        fi
    done
}

start_server() {   # name -> 0 when it serves TLS and echoes through the backend on both ports
    local name=$1 log=$LOGS/$1.log
    [ -n "${UNAVAILABLE[$name]:-}" ] && return 1
    echo "=== start $(date -u +%T)" >>"$log"
    case $name in
        haproxy)
            haproxy -c -f "$W/haproxy.cfg" >>"$log" 2>&1 || { UNAVAILABLE[$name]="haproxy -c rejected the config (logs/haproxy.log)"; return 1; }
            haproxy -db -f "$W/haproxy.cfg" >>"$log" 2>&1 &
            ;;
        hitch)
            hitch --test --config="$W/hitch.conf" >>"$log" 2>&1 || { UNAVAILABLE[$name]="hitch --test rejected the config (logs/hitch.log)"; return 1; }
            if grep -q 'Ignoring unknown configuration key' "$log"; then
                UNAVAILABLE[$name]="hitch ignored keys of the generated config: $(grep -m1 'Ignoring unknown' "$log")"; return 1
            fi
            hitch --config="$W/hitch.conf" --pidfile="$W/hitch.pid" >>"$log" 2>&1 &
            ;;
        stunnel)
            # stunnel has no configuration test; a bad file makes it exit, which the wait below notices.
            "$STUNNEL_BIN" "$W/stunnel.conf" >>"$log" 2>&1 &
            ;;
        nginx)
            nginx -t -q -p "$W" -c "$W/nginx.conf" -e "$log" >>"$log" 2>&1 || { UNAVAILABLE[$name]="nginx -t rejected the config (logs/nginx.log)"; return 1; }
            nginx -p "$W" -c "$W/nginx.conf" -e "$log" >>"$log" 2>&1 &
            ;;
        portcullis)
            if ! "$PC_BIN" check --config "$W/portcullis.toml" >>"$log" 2>&1; then
                UNAVAILABLE[$name]="'portcullis check' failed: $(grep -v '^===' "$log" | tail -3 | tr '\n' ' ' | cut -c1-300)"
                return 1
            fi
            # HAProxy runs as the invoking user too; as root, portcullis needs --allow-root to do the same.
            local root_flag=()
            [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
            "$PC_BIN" run --config "$W/portcullis.toml" "${root_flag[@]}" >>"$log" 2>&1 &
            ;;
    esac
    local pid=$!
    PIDS+=("$pid")
    SERVER_PID[$name]=$pid
    local up=0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        if listening "${PORT_RSA[$name]}" && listening "${PORT_EC[$name]}"; then up=1; break; fi
        sleep 0.1
    done
    if (( !up )); then
        UNAVAILABLE[$name]="did not listen on ${PORT_RSA[$name]}/${PORT_EC[$name]}: $(grep -v '^===' "$log" | tail -3 | tr '\n' ' ' | cut -c1-300)"
        stop_server "$name"
        return 1
    fi
    # Smoke test: a TLS 1.3 and a TLS 1.2 connection on each port, each echoing one byte through the backend.
    local port sni v r
    for port in "${PORT_RSA[$name]}" "${PORT_EC[$name]}"; do
        sni=$SNI_EC; [ "$port" = "${PORT_RSA[$name]}" ] && sni=$SNI_RSA
        for v in 1.3 1.2; do
            r=$("$TLSLOAD" idle --port "$port" --sni "$sni" --tls "$v" --conns 2 --hold 0.2 --timeout 5 \
                --ciphers "$CLIENT_CIPHERS" --ciphersuites "$CLIENT_SUITES" 2>&1 | grep '^RESULT')
            if [[ "$r" != *" established=2 "* ]]; then
                UNAVAILABLE[$name]="smoke test failed on port $port TLS $v: ${r:-no result}"
                stop_server "$name"
                return 1
            fi
        done
    done
    return 0
}

# ---------------------------------------------------------------------------------------------------
# Measurements
RAW=$OUT/raw.tsv
printf 'figure\tserver\tresult\n' >"$RAW"
declare -A VAL=() CPU=() NOTE=() BASELINE=() PSS_BASELINE=()
FIGURES=()
declare -A LABEL=() UNIT=() BETTER=()

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# The backend's count of accepted connections (it prints "ACCEPTED n" on SIGUSR1).
backend_accepts() {
    local before after
    before=$(grep -c '^ACCEPTED' "$LOGS/backend.log" 2>/dev/null)
    kill -USR1 "$BACKEND_PID" 2>/dev/null || { echo ""; return; }
    for _ in $(seq 1 50); do
        after=$(grep -c '^ACCEPTED' "$LOGS/backend.log" 2>/dev/null)
        (( after > before )) && { grep '^ACCEPTED' "$LOGS/backend.log" | tail -1 | cut -d' ' -f2; return; }
        sleep 0.02
    done
    echo ""
}

# measure KEY "label" unit higher|lower metric cpu_metric port_kind tlsload-args...
# Runs ROUNDS rounds; in each, every server once, in an order that rotates by one server from round to round
# and figure to figure (so a drift of the machine's load does not favour one). The figure is the mean over
# the rounds; the rounds' values are kept in notes. Handshake figures also count the backend connections
# the server made per handshake (1.00 when every connection reached the backend).
ORDER_ROT=0
measure() {
    local key=$1 label=$2 unit=$3 better=$4 metric=$5 cpu_metric=$6 kind=$7
    shift 7
    FIGURES+=("$key"); LABEL[$key]=$label; UNIT[$key]=$unit; BETTER[$key]=$better
    local s port sni line round v c i a0 a1 is_hs=0
    [ "$1" = handshake ] && is_hs=1
    declare -A sum=() csum=() n=() per=() failed=() hs=() nr=() unexp=() err=() bconn=() hstot=()
    for round in $(seq 1 "$ROUNDS"); do
        note_busy
        local order=() k=${#SERVERS[@]}
        for (( i = 0; i < k; i++ )); do order+=("${SERVERS[(i + ORDER_ROT) % k]}"); done
        ORDER_ROT=$(( ORDER_ROT + 1 ))
        for s in "${order[@]}"; do
            if [ -n "${UNAVAILABLE[$s]:-}" ] || [ -z "${SERVER_PID[$s]:-}" ] || ! kill -0 "${SERVER_PID[$s]}" 2>/dev/null; then
                [ -z "${UNAVAILABLE[$s]:-}" ] && [ -n "${SERVER_PID[$s]:-}" ] && UNAVAILABLE[$s]="process exited during the run (logs/$s.log)"
                continue
            fi
            if [ "$kind" = rsa ]; then port=${PORT_RSA[$s]}; sni=$SNI_RSA; else port=${PORT_EC[$s]}; sni=$SNI_EC; fi
            (( is_hs )) && a0=$(backend_accepts)
            line=$("$TLSLOAD" "$@" --port "$port" --sni "$sni" --warmup "$WARMUP" --duration "$DURATION" \
                   --ciphers "$CLIENT_CIPHERS" --ciphersuites "$CLIENT_SUITES" \
                   --cpu-pids "$(server_pids "$s" | paste -sd, -)" 2>>"$LOGS/tlsload.err" | grep '^RESULT')
            local bnote=""
            if (( is_hs )); then
                sleep 0.2   # connections the server still relays to the backend after the client left
                a1=$(backend_accepts)
                if [ -n "$a0" ] && [ -n "$a1" ]; then
                    bnote=" backend_accepts=$(( a1 - a0 ))"
                    bconn[$s]=$(( ${bconn[$s]:-0} + a1 - a0 ))
                    hstot[$s]=$(( ${hstot[$s]:-0} + $(field "$line" handshakes_total) + 0 ))
                fi
            fi
            printf '%s\t%s\tround=%s %s%s\n' "$key" "$s" "$round" "$line" "$bnote" >>"$RAW"
            v=$(field "$line" "$metric"); c=$(field "$line" "$cpu_metric")
            if [ -z "$v" ]; then
                say "$(printf '%-48s %-10s NO RESULT (see logs/tlsload.err)' "$label" "$s")"
                failed[$s]=$(( ${failed[$s]:-0} + 1 )); [ -z "${err[$s]:-}" ] && err[$s]="no RESULT line"
                continue
            fi
            sum[$s]=$(awk -v a="${sum[$s]:-0}" -v b="$v" 'BEGIN{print a+b}')
            csum[$s]=$(awk -v a="${csum[$s]:-0}" -v b="${c:-0}" 'BEGIN{print a+b}')
            n[$s]=$(( ${n[$s]:-0} + 1 ))
            per[$s]+="${per[$s]:+/}$v"
            failed[$s]=$(( ${failed[$s]:-0} + $(field "$line" failed) ))
            hs[$s]=$(( ${hs[$s]:-0} + $(field "$line" handshakes || true) + 0 ))
            nr[$s]=$(( ${nr[$s]:-0} + $(field "$line" not_reused) + 0 ))
            unexp[$s]=$(( ${unexp[$s]:-0} + $(field "$line" unexpected_reuse) + 0 ))
            [ -z "${err[$s]:-}" ] && err[$s]=$(field "$line" first_error | cut -c1-80)
            say "$(printf '%-48s %-10s %10s %s  cpu=%s  (round %s)' "$label" "$s" "$v" "$unit" "${c:-?}" "$round")"
        done
    done
    for s in "${SERVERS[@]}"; do
        if [ -z "${n[$s]:-}" ]; then
            VAL[$key,$s]="n/a"
            [ -n "${failed[$s]:-}" ] && NOTE[$key,$s]="FAILED (${err[$s]})"
            continue
        fi
        VAL[$key,$s]=$(awk -v a="${sum[$s]}" -v k="${n[$s]}" 'BEGIN{printf "%.1f", a/k}')
        CPU[$key,$s]=$(awk -v a="${csum[$s]}" -v k="${n[$s]}" 'BEGIN{printf (a/k < 10 ? "%.3f" : "%.0f"), a/k}')
        local notes="rounds ${per[$s]}"
        (( ${failed[$s]} > 0 )) && notes+=", FAILED=${failed[$s]} (${err[$s]})"
        (( ${unexp[$s]} > 0 )) && notes+=", UNEXPECTED_REUSE=${unexp[$s]}"
        if [[ "$*" == *--resume* ]] && (( ${hs[$s]} > 0 )); then
            notes+=", $(awk -v a="${hs[$s]}" -v b="${nr[$s]}" 'BEGIN{printf "%.1f", 100*(a-b)/a}')% resumed"
        fi
        if (( is_hs )) && (( ${hstot[$s]:-0} > 0 )); then
            notes+=", backend conns/hs $(awk -v a="${bconn[$s]}" -v b="${hstot[$s]}" 'BEGIN{printf "%.2f", a/b}')"
        fi
        NOTE[$key,$s]=$notes
    done
}

measure_idle() {   # server count -> VAL[mem_<count>,server] in KiB per connection
    local s=$1 n=$2 key=mem_$2
    local out=$LOGS/idle-$s-$n.out
    if [ -n "${UNAVAILABLE[$s]:-}" ] || [ -z "${SERVER_PID[$s]:-}" ]; then VAL[$key,$s]="n/a"; return; fi
    local before=${BASELINE[$s]} after
    "$TLSLOAD" idle --port "${PORT_EC[$s]}" --sni "$SNI_EC" --tls 1.3 --conns "$n" --hold 300 --src-ips 16 \
        --ciphers "$CLIENT_CIPHERS" --ciphersuites "$CLIENT_SUITES" >"$out" 2>>"$LOGS/tlsload.err" &
    local cpid=$!
    PIDS+=("$cpid")
    for _ in $(seq 1 1200); do
        grep -qs '^READY' "$out" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 2   # let the proxy finish backend connects and deferred frees
    after=$(rss_kb "$s")
    local ready established
    ready=$(grep '^READY' "$out")
    established=$(field " $ready" established)
    kill -TERM "$cpid" 2>/dev/null
    wait "$cpid" 2>/dev/null
    forget_pid "$cpid"
    sleep 3   # every server gets the same time to give memory back (Portcullis trims 2 s after a large fall)
    local closed line
    closed=$(rss_kb "$s")   # after the client closed them all: how much the server gives back
    line=$(grep '^RESULT' "$out")
    printf '%s\t%s\tbaseline_kb=%s loaded_kb=%s closed_kb=%s baseline_pss_kb=%s processes=%s %s %s\n' "$key" "$s" "$before" "$after" "$closed" \
        "${PSS_BASELINE[$s]}" "$(server_pids "$s" | wc -l)" "$ready" "$line" >>"$RAW"
    if [ -z "$established" ] || [ "$established" = 0 ]; then
        VAL[$key,$s]="n/a"; NOTE[$key,$s]="no connection established ($(field "$line" first_error | cut -c1-80))"
    else
        VAL[$key,$s]=$(awk -v a="$after" -v b="$before" -v n="$established" 'BEGIN{printf "%.1f", (a-b)/n}')
        CPU[$key,$s]="${before}->${after}->${closed}"
        local notes=" baseline Pss ${PSS_BASELINE[$s]} KiB"
        [ "$established" != "$n" ] && notes+=" only $established of $n established"
        local dropped; dropped=$(field "$line" dropped)
        [ -n "$dropped" ] && [ "$dropped" != 0 ] && notes+=" DROPPED=$dropped"
        NOTE[$key,$s]=${notes# }
    fi
    say "$(printf '%-48s %-10s %10s KiB/conn  RSS %s -> %s KiB, %s KiB after close; %s' "Memory per idle TLS connection @$n" "$s" "${VAL[$key,$s]}" "$before" "$after" "$closed" "${NOTE[$key,$s]:-ok}")"
}

# ---------------------------------------------------------------------------------------------------
say "starting the backend and the servers (ports $PORT_BASE..$((PORT_BASE + N_PORTS - 1)))"
start_backend
for s in "${SERVERS[@]}"; do
    if start_server "$s"; then say "$s is up (pid ${SERVER_PID[$s]})"; else say "$s UNAVAILABLE: ${UNAVAILABLE[$s]}"; fi
done

# Each handshake connection carries a 1-byte request and its echo through the backend, so every proxy does
# the same work (connect to the backend, relay both ways). The one "no request" figure closes right after the
# handshake: a proxy may then skip the backend (HAProxy, and Portcullis with close reason client_gone) or not;
# the backend connections per handshake in its notes show which did.
HS="handshake --threads $HS_THREADS --conns $HS_CONNS --src-ips 16 --echo"
if [[ "$PARTS" == *" rates "* ]]; then
measure hs_rsa_13 "Full handshakes/s, RSA-2048, TLS 1.3" "hs/s" higher rate server_cpu_us_per_hs rsa $HS --tls 1.3
measure hs_rsa_12 "Full handshakes/s, RSA-2048, TLS 1.2" "hs/s" higher rate server_cpu_us_per_hs rsa $HS --tls 1.2
measure hs_ec_13 "Full handshakes/s, ECDSA P-256, TLS 1.3" "hs/s" higher rate server_cpu_us_per_hs ec $HS --tls 1.3
measure hs_ec_12 "Full handshakes/s, ECDSA P-256, TLS 1.2" "hs/s" higher rate server_cpu_us_per_hs ec $HS --tls 1.2
measure hs_ec_13_norq "Full handshakes/s, ECDSA, TLS 1.3, no request" "hs/s" higher rate server_cpu_us_per_hs ec ${HS% --echo} --tls 1.3
measure res_13 "Resumed handshakes/s, TLS 1.3 ticket" "hs/s" higher resumed_rate server_cpu_us_per_hs ec $HS --tls 1.3 --resume
measure res_12_ticket "Resumed handshakes/s, TLS 1.2 ticket" "hs/s" higher resumed_rate server_cpu_us_per_hs ec $HS --tls 1.2 --resume
measure res_12_id "Resumed handshakes/s, TLS 1.2 session id" "hs/s" higher resumed_rate server_cpu_us_per_hs ec $HS --tls 1.2 --resume --no-ticket
measure bulk_up_1 "Bulk MB/s, 1 conn, client->backend" "MB/s" higher mb_per_s server_cpu_s_per_gb ec bulk --tls 1.3 --direction up --conns 1 --threads 1
measure bulk_down_1 "Bulk MB/s, 1 conn, backend->client" "MB/s" higher mb_per_s server_cpu_s_per_gb ec bulk --tls 1.3 --direction down --conns 1 --threads 1
measure bulk_up_16 "Bulk MB/s, 16 conns, client->backend" "MB/s" higher mb_per_s server_cpu_s_per_gb ec bulk --tls 1.3 --direction up --conns 16 --threads 2
measure bulk_down_16 "Bulk MB/s, 16 conns, backend->client" "MB/s" higher mb_per_s server_cpu_s_per_gb ec bulk --tls 1.3 --direction down --conns 16 --threads 2
fi

# Memory: fresh servers, a short warm-up (so lazy one-time allocations count in the baseline), then
# N idle connections on top of that baseline.
if [[ "$PARTS" == *" memory "* ]]; then
say "memory: restarting the servers"
for s in "${SERVERS[@]}"; do
    [ -n "${UNAVAILABLE[$s]:-}" ] && continue
    stop_server "$s"
    start_server "$s" || { say "$s UNAVAILABLE on restart: ${UNAVAILABLE[$s]}"; continue; }
    "$TLSLOAD" handshake --port "${PORT_EC[$s]}" --sni "$SNI_EC" --conns 4 --warmup 0 --duration 1 \
        --ciphers "$CLIENT_CIPHERS" --ciphersuites "$CLIENT_SUITES" >/dev/null 2>>"$LOGS/tlsload.err"
done
sleep 1
# One baseline per server, taken once: with N connections the RSS is compared with this fresh state (memory
# freed after the 1,000 run and reused at 9,000 is still counted at 9,000).
for s in "${SERVERS[@]}"; do
    [ -n "${SERVER_PID[$s]:-}" ] || continue
    BASELINE[$s]=$(rss_kb "$s"); PSS_BASELINE[$s]=$(pss_kb "$s")
    say "$(printf '%-10s baseline: Rss %s KiB, Pss %s KiB over %s process(es): %s' "$s" "${BASELINE[$s]}" "${PSS_BASELINE[$s]}" \
        "$(server_pids "$s" | wc -l)" "$(ps -o pid=,ppid=,nlwp=,comm= -p "$(server_pids "$s" | paste -sd, -)" | awk '{printf "%s%s(pid %s, parent %s, %s threads)", (NR > 1 ? ", " : ""), $4, $1, $2, $3}')")"
done
for n in "${IDLE_COUNTS[@]}"; do
    key=mem_$n
    FIGURES+=("$key"); LABEL[$key]="Memory per idle TLS connection @$n"; UNIT[$key]="KiB/conn"; BETTER[$key]=lower
    note_busy
    for s in "${SERVERS[@]}"; do measure_idle "$s" "$n"; done
done
fi
note_busy

# ---------------------------------------------------------------------------------------------------
# Summary
END_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_RANGE=$(printf '%s\n' "${LOADS[@]}" | sort -g | sed -n '1p;$p' | paste -sd- -)
BUSY_LABEL="quiet machine (no compiler seen during the run; 1-min load average $LOAD_RANGE)"
if (( MAX_COMPILERS > 0 )); then
    BUSY_LABEL="MEASURED WHILE OTHER BUILDS WERE RUNNING (up to $MAX_COMPILERS compiler processes seen; 1-min load average $LOAD_RANGE)"
fi
[ -n "$NICE_NOTE" ] && BUSY_LABEL+="; $NICE_NOTE"

isnum() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
ratio() {   # a / b, or "-" when either is missing
    local b=$1 a=$2
    if isnum "$a" && isnum "$b" && awk -v b="$b" 'BEGIN{exit !(b > 0)}'; then
        awk -v b="$b" -v a="$a" 'BEGIN{printf "%.2f", a/b}'
    else
        echo "-"
    fi
}
# best_peer ARRAY_PREFIX key higher|lower -> "server value" of the best server other than Portcullis
best_peer() {
    local table=$1 key=$2 better=$3 s v best="" bestv=""
    local -n arr=$table
    for s in "${SERVERS[@]}"; do
        [ "$s" = portcullis ] && continue
        v=${arr[$key,$s]:-}
        isnum "$v" || continue
        if [ -z "$bestv" ] || awk -v v="$v" -v b="$bestv" -v h="$better" 'BEGIN{exit !(h == "higher" ? v > b : v < b)}'; then
            best=$s; bestv=$v
        fi
    done
    [ -n "$best" ] && echo "$best $bestv"
}
rank_of_portcullis() {   # key better -> "r/n" among the servers with a figure
    local key=$1 better=$2 s v p=${VAL[$1,portcullis]:-} ahead=0 count=0
    isnum "$p" || { echo "-"; return; }
    for s in "${SERVERS[@]}"; do
        v=${VAL[$key,$s]:-}
        isnum "$v" || continue
        count=$(( count + 1 ))
        [ "$s" = portcullis ] && continue
        awk -v v="$v" -v p="$p" -v h="$better" 'BEGIN{exit !(h == "higher" ? v > p : v < p)}' && ahead=$(( ahead + 1 ))
    done
    echo "$(( ahead + 1 ))/$count"
}
cpu_unit_of() { case $1 in bulk*) echo "CPU s/GB" ;; mem*) echo "RSS KiB" ;; *) echo "µs/hs" ;; esac; }

# One row per figure: each server's value, the best peer, Portcullis / best peer and Portcullis' rank.
# A second table has the server CPU per operation (lower is better) with the same columns; a third lists
# the memory figures' RSS (baseline -> loaded -> after close); the notes (rounds, resumption, backend
# connections per handshake, failures) follow.
HAVE_PC=0; want portcullis && HAVE_PC=1
HAVE_RATES=0; HAVE_MEM=0
for key in "${FIGURES[@]}"; do if [[ "$key" == mem* ]]; then HAVE_MEM=1; else HAVE_RATES=1; fi; done
{
    peers=""; for s in "${SERVERS[@]}"; do [ "$s" != portcullis ] && peers+="${peers:+, }${DISPLAY[$s]}"; done
    echo "Portcullis vs ${peers:-nothing} — $END_DATE"
    echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -r); $BUSY_LABEL"
    echo "Versions: $VERSIONS"
    echo "Setup: $WORKERS workers/threads where the server has them (stunnel: a thread per connection), same certificates, client offers only AES-128-GCM (TLS 1.3: TLS_AES_128_GCM_SHA256, TLS 1.2: ECDHE-*-AES128-GCM-SHA256), X25519;"
    echo "       $ROUNDS round(s) of ${WARMUP}s warm-up + ${DURATION}s measured per figure and server (mean shown); handshakes: $HS_CONNS in flight; memory: fresh servers, ECDSA, TLS 1.3."
    [ "$QUICK" = 1 ] && echo "QUICK SMOKE RUN (BENCH_QUICK=1): proves that every server serves every figure; not for comparison."
    for s in "${SERVERS[@]}"; do
        [ -n "${UNAVAILABLE[$s]:-}" ] && echo "NOTE: $s unavailable: ${UNAVAILABLE[$s]}"
    done
    echo
    printf '%-52s' "Figure [unit]"
    for s in "${SERVERS[@]}"; do printf ' %11s' "${DISPLAY[$s]}"; done
    printf '  %-20s %7s %5s  %s\n' "best peer" "P/best" "rank" "better"
    for key in "${FIGURES[@]}"; do
        printf '%-52s' "${LABEL[$key]} [${UNIT[$key]}]"
        for s in "${SERVERS[@]}"; do printf ' %11s' "${VAL[$key,$s]:-n/a}"; done
        bp=$(best_peer VAL "$key" "${BETTER[$key]}")
        r="-"; rk="-"
        if (( HAVE_PC )) && [ -n "$bp" ]; then r=$(ratio "${bp#* }" "${VAL[$key,portcullis]:-}"); rk=$(rank_of_portcullis "$key" "${BETTER[$key]}"); fi
        printf '  %-20s %7s %5s  %s\n' "${bp:+${DISPLAY[${bp% *}]} ${bp#* }}" "$r" "$rk" "${BETTER[$key]}"
    done
    if (( HAVE_RATES )); then
    echo
    echo "Server CPU per operation (user+system over the measured window; lower is better)"
    printf '%-52s' "Figure [unit]"
    for s in "${SERVERS[@]}"; do printf ' %11s' "${DISPLAY[$s]}"; done
    printf '  %-20s %7s\n' "best peer" "P/best"
    for key in "${FIGURES[@]}"; do
        [[ "$key" == mem* ]] && continue
        printf '%-52s' "${LABEL[$key]} [$(cpu_unit_of "$key")]"
        for s in "${SERVERS[@]}"; do printf ' %11s' "${CPU[$key,$s]:--}"; done
        bp=$(best_peer CPU "$key" lower); r="-"
        (( HAVE_PC )) && [ -n "$bp" ] && r=$(ratio "${bp#* }" "${CPU[$key,portcullis]:-}")
        printf '  %-20s %7s\n' "${bp:+${DISPLAY[${bp% *}]} ${bp#* }}" "$r"
    done
    fi
    if (( HAVE_MEM )); then
    echo
    echo "Memory: RSS KiB, baseline -> with the idle connections -> after they closed"
    for key in "${FIGURES[@]}"; do
        [[ "$key" == mem* ]] || continue
        for s in "${SERVERS[@]}"; do printf '  %-40s %-11s %s\n' "${LABEL[$key]}" "${DISPLAY[$s]}" "${CPU[$key,$s]:--}"; done
    done
    fi
    echo
    echo "Notes"
    for key in "${FIGURES[@]}"; do
        for s in "${SERVERS[@]}"; do
            [ -n "${NOTE[$key,$s]:-}" ] && printf '  %-52s %-11s %s\n' "${LABEL[$key]}" "${DISPLAY[$s]}" "${NOTE[$key,$s]}"
        done
    done
} >"$OUT/summary.txt"

{
    quick_md=""; [ "$QUICK" = 1 ] && quick_md=" **QUICK SMOKE RUN (BENCH_QUICK=1): not for comparison.**"
    echo "Run of $END_DATE on $(nproc) cores ($CPU_MODEL). $BUSY_LABEL.$quick_md"
    echo
    echo "Versions: $VERSIONS."
    for s in "${SERVERS[@]}"; do
        [ -n "${UNAVAILABLE[$s]:-}" ] && echo && echo "**$s unavailable:** ${UNAVAILABLE[$s]}"
    done
    echo
    hdr="| Figure |"; sep="|---|"
    for s in "${SERVERS[@]}"; do hdr+=" ${DISPLAY[$s]} |"; sep+="---:|"; done
    echo "$hdr best peer | Portcullis / best peer | Portcullis' rank | better |"
    echo "$sep---|---:|---:|---|"
    for key in "${FIGURES[@]}"; do
        row="| ${LABEL[$key]} (${UNIT[$key]}) |"
        for s in "${SERVERS[@]}"; do row+=" ${VAL[$key,$s]:-n/a} |"; done
        bp=$(best_peer VAL "$key" "${BETTER[$key]}")
        r="-"; rk="-"
        if (( HAVE_PC )) && [ -n "$bp" ]; then r=$(ratio "${bp#* }" "${VAL[$key,portcullis]:-}"); rk=$(rank_of_portcullis "$key" "${BETTER[$key]}"); fi
        echo "$row ${bp:+${DISPLAY[${bp% *}]} ${bp#* }} | **$r** | $rk | ${BETTER[$key]} |"
    done
    if (( HAVE_RATES )); then
    echo
    echo "Server CPU per operation (user+system over the measured window; lower is better):"
    echo
    echo "$hdr best peer | Portcullis / best peer |"
    echo "$sep---|---:|"
    for key in "${FIGURES[@]}"; do
        [[ "$key" == mem* ]] && continue
        row="| ${LABEL[$key]} ($(cpu_unit_of "$key")) |"
        for s in "${SERVERS[@]}"; do row+=" ${CPU[$key,$s]:--} |"; done
        bp=$(best_peer CPU "$key" lower); r="-"
        (( HAVE_PC )) && [ -n "$bp" ] && r=$(ratio "${bp#* }" "${CPU[$key,portcullis]:-}")
        echo "$row ${bp:+${DISPLAY[${bp% *}]} ${bp#* }} | **$r** |"
    done
    fi
    if (( HAVE_MEM )); then
    echo
    echo "Memory, RSS KiB baseline → with the idle connections → after they closed:"
    echo
    echo "| Figure | server | RSS KiB | notes |"
    echo "|---|---|---|---|"
    for key in "${FIGURES[@]}"; do
        [[ "$key" == mem* ]] || continue
        for s in "${SERVERS[@]}"; do echo "| ${LABEL[$key]} | ${DISPLAY[$s]} | ${CPU[$key,$s]:--} | ${NOTE[$key,$s]:-} |"; done
    done
    fi
    echo
    echo "Notes (rounds, resumption, backend connections per handshake, failures):"
    echo
    for key in "${FIGURES[@]}"; do
        [[ "$key" == mem* ]] && continue
        line=""
        for s in "${SERVERS[@]}"; do [ -n "${NOTE[$key,$s]:-}" ] && line+="${line:+; }${DISPLAY[$s]}: ${NOTE[$key,$s]}"; done
        [ -n "$line" ] && echo "- ${LABEL[$key]}: $line"
    done
} >"$OUT/summary.md"

# BENCH_UPDATE_README=1: put summary.md between the results markers of bench/README.md.
if [ "${BENCH_UPDATE_README:-0}" = 1 ] && grep -q '<!-- results:begin -->' "$BENCH_DIR/README.md"; then
    awk -v f="$OUT/summary.md" '
        /<!-- results:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- results:end -->/ { skip = 0 }
        !skip { print }' "$BENCH_DIR/README.md" >"$OUT/README.new" && mv "$OUT/README.new" "$BENCH_DIR/README.md"
fi

echo
cat "$OUT/summary.txt"
echo
say "results in ${OUT#$ROOT/} (summary.txt, summary.md, raw.tsv, logs/); the run took $(( $(date +%s) - T_START )) s (estimated $EST s)"
