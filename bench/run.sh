#!/usr/bin/env bash
# Portcullis vs HAProxy, side by side on this machine, in one run: same certificates, same ciphers, same
# worker count (2), same plaintext backend. Method and caveats: bench/README.md.
#
#   bench/run.sh                      # everything (about 4-5 minutes, plus the first release build)
#   BENCH_DURATION=3 bench/run.sh     # shorter figures
#   BENCH_SERVERS=haproxy bench/run.sh
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

DURATION=${BENCH_DURATION:-3}        # seconds measured per figure, server and round
ROUNDS=${BENCH_ROUNDS:-2}            # rounds per figure (servers alternate within each)
WARMUP=${BENCH_WARMUP:-1}            # seconds run before measuring
WORKERS=2                            # HAProxy nbthread == Portcullis workers
HS_THREADS=2                         # load client threads for handshake figures
HS_CONNS=${BENCH_HS_CONNS:-16}       # handshakes in flight
IDLE_COUNTS=(${BENCH_IDLE_COUNTS:-1000 9000})
SERVERS=(${BENCH_SERVERS:-haproxy portcullis})
PORT_BASE=${BENCH_PORT_BASE:-24400}

CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
SUITES="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
# The client offers exactly one suite per version, so both servers negotiate the same one.
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
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.3
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# Dependencies
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
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
    apt-get update -qq >"$LOGS/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
        || { echo "apt-get install failed, see $LOGS/apt.log" >&2; exit 1; }
fi

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
port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
for _ in $(seq 1 40); do
    ok=1
    for p in $(seq "$PORT_BASE" $((PORT_BASE + 4))); do port_free "$p" || ok=0; done
    (( ok )) && break
    PORT_BASE=$(( PORT_BASE + 10 ))
done
BACKEND_PORT=$PORT_BASE
declare -A PORT_RSA=([haproxy]=$((PORT_BASE + 1)) [portcullis]=$((PORT_BASE + 3)))
declare -A PORT_EC=([haproxy]=$((PORT_BASE + 2)) [portcullis]=$((PORT_BASE + 4)))
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

cat >"$W/haproxy.cfg" <<EOF
# Generated by bench/run.sh
global
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

# ---------------------------------------------------------------------------------------------------
# Environment
HAPROXY_VERSION=$(haproxy -v 2>/dev/null | head -1 | sed 's/ - https.*//')
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
say "$HAPROXY_VERSION | $OPENSSL_VERSION | portcullis: $PC_VERSION ($GIT_REV)"

# ---------------------------------------------------------------------------------------------------
# Servers
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

start_backend() {
    "$TLSLOAD" backend --port "$BACKEND_PORT" >"$LOGS/backend.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do listening "$BACKEND_PORT" && return 0; sleep 0.1; done
    echo "backend did not start: $(cat "$LOGS/backend.log")" >&2
    exit 1
}

server_pids() {   # the server process and its children
    local pid=${SERVER_PID[$1]:-}
    [ -n "$pid" ] || return 0
    echo "$pid"
    pgrep -P "$pid" 2>/dev/null || true
}

rss_kb() {   # user-space resident memory of all the server's processes
    local total=0 pid v
    for pid in $(server_pids "$1"); do
        v=$(awk '/^Rss:/{print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
        [ -z "$v" ] && v=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null)
        total=$(( total + ${v:-0} ))
    done
    echo "$total"
}

stop_server() {
    local pid=${SERVER_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    forget_pid "$pid"
    SERVER_PID[$1]=""
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
declare -A VAL=() CPU=() NOTE=() BASELINE=()
FIGURES=()
declare -A LABEL=() UNIT=() BETTER=()

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# measure KEY "label" unit higher|lower metric cpu_metric port_kind tlsload-args...
# Runs ROUNDS rounds; in each, every server once, alternating which goes first (so a drift of the machine's
# load does not favour one). The figure is the mean over the rounds; the rounds' values are kept in notes.
ORDER_FLIP=0
measure() {
    local key=$1 label=$2 unit=$3 better=$4 metric=$5 cpu_metric=$6 kind=$7
    shift 7
    FIGURES+=("$key"); LABEL[$key]=$label; UNIT[$key]=$unit; BETTER[$key]=$better
    local s port sni line round v c
    declare -A sum=() csum=() n=() per=() failed=() hs=() nr=() unexp=() err=()
    for round in $(seq 1 "$ROUNDS"); do
        note_busy
        local order=("${SERVERS[@]}")
        if (( ORDER_FLIP )) && (( ${#order[@]} == 2 )); then order=("${order[1]}" "${order[0]}"); fi
        ORDER_FLIP=$(( 1 - ORDER_FLIP ))
        for s in "${order[@]}"; do
            if [ -n "${UNAVAILABLE[$s]:-}" ] || [ -z "${SERVER_PID[$s]:-}" ] || ! kill -0 "${SERVER_PID[$s]}" 2>/dev/null; then
                [ -z "${UNAVAILABLE[$s]:-}" ] && [ -n "${SERVER_PID[$s]:-}" ] && UNAVAILABLE[$s]="process exited during the run (logs/$s.log)"
                continue
            fi
            if [ "$kind" = rsa ]; then port=${PORT_RSA[$s]}; sni=$SNI_RSA; else port=${PORT_EC[$s]}; sni=$SNI_EC; fi
            line=$("$TLSLOAD" "$@" --port "$port" --sni "$sni" --warmup "$WARMUP" --duration "$DURATION" \
                   --ciphers "$CLIENT_CIPHERS" --ciphersuites "$CLIENT_SUITES" \
                   --cpu-pids "$(server_pids "$s" | paste -sd, -)" 2>>"$LOGS/tlsload.err" | grep '^RESULT')
            printf '%s\t%s\tround=%s %s\n' "$key" "$s" "$round" "$line" >>"$RAW"
            v=$(field "$line" "$metric"); c=$(field "$line" "$cpu_metric")
            [ -z "$v" ] && continue
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
        if [ -z "${n[$s]:-}" ]; then VAL[$key,$s]="n/a"; continue; fi
        VAL[$key,$s]=$(awk -v a="${sum[$s]}" -v k="${n[$s]}" 'BEGIN{printf "%.1f", a/k}')
        CPU[$key,$s]=$(awk -v a="${csum[$s]}" -v k="${n[$s]}" 'BEGIN{printf (a/k < 10 ? "%.3f" : "%.0f"), a/k}')
        local notes="rounds ${per[$s]}"
        (( ${failed[$s]} > 0 )) && notes+=", FAILED=${failed[$s]} (${err[$s]})"
        (( ${unexp[$s]} > 0 )) && notes+=", UNEXPECTED_REUSE=${unexp[$s]}"
        if [[ "$*" == *--resume* ]] && (( ${hs[$s]} > 0 )); then
            notes+=", $(awk -v a="${hs[$s]}" -v b="${nr[$s]}" 'BEGIN{printf "%.1f", 100*(a-b)/a}')% resumed"
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
    sleep 1
    local closed line
    closed=$(rss_kb "$s")   # after the client closed them all: how much the server gives back
    line=$(grep '^RESULT' "$out")
    printf '%s\t%s\tbaseline_kb=%s loaded_kb=%s closed_kb=%s %s %s\n' "$key" "$s" "$before" "$after" "$closed" "$ready" "$line" >>"$RAW"
    if [ -z "$established" ] || [ "$established" = 0 ]; then
        VAL[$key,$s]="n/a"; NOTE[$key,$s]="no connection established ($(field "$line" first_error | cut -c1-80))"
    else
        VAL[$key,$s]=$(awk -v a="$after" -v b="$before" -v n="$established" 'BEGIN{printf "%.1f", (a-b)/n}')
        CPU[$key,$s]="${before}->${after}->${closed}"
        local notes=""
        [ "$established" != "$n" ] && notes+=" only $established of $n established"
        local dropped; dropped=$(field "$line" dropped)
        [ -n "$dropped" ] && [ "$dropped" != 0 ] && notes+=" DROPPED=$dropped"
        NOTE[$key,$s]=${notes# }
    fi
    say "$(printf '%-48s %-10s %10s KiB/conn  RSS %s -> %s KiB, %s KiB after close; %s' "Memory per idle TLS connection @$n" "$s" "${VAL[$key,$s]}" "$before" "$after" "$closed" "${NOTE[$key,$s]:-ok}")"
}

# ---------------------------------------------------------------------------------------------------
say "starting the backend and the servers (ports $PORT_BASE..$((PORT_BASE + 4)))"
start_backend
for s in "${SERVERS[@]}"; do
    if start_server "$s"; then say "$s is up (pid ${SERVER_PID[$s]})"; else say "$s UNAVAILABLE: ${UNAVAILABLE[$s]}"; fi
done

# Each handshake connection carries a 1-byte request and its echo through the backend, so both proxies do
# the same work (connect to the backend, relay both ways). Without it, HAProxy skips the backend connect for
# a client that has already closed; the one "no request" figure shows that case.
HS="handshake --threads $HS_THREADS --conns $HS_CONNS --src-ips 16 --echo"
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

# Memory: fresh servers, a short warm-up (so lazy one-time allocations count in the baseline), then
# N idle connections on top of that baseline.
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
for s in "${SERVERS[@]}"; do [ -n "${SERVER_PID[$s]:-}" ] && BASELINE[$s]=$(rss_kb "$s"); done
for n in "${IDLE_COUNTS[@]}"; do
    key=mem_$n
    FIGURES+=("$key"); LABEL[$key]="Memory per idle TLS connection @$n"; UNIT[$key]="KiB/conn"; BETTER[$key]=lower
    note_busy
    for s in "${SERVERS[@]}"; do measure_idle "$s" "$n"; done
done
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

ratio() {   # portcullis / haproxy
    local h=$1 p=$2
    if [[ "$h" =~ ^[0-9.]+$ ]] && [[ "$p" =~ ^[0-9.]+$ ]] && awk -v h="$h" 'BEGIN{exit !(h > 0)}'; then
        awk -v h="$h" -v p="$p" 'BEGIN{printf "%.2f", p/h}'
    else
        echo "-"
    fi
}

{
    echo "Portcullis vs HAProxy — $END_DATE"
    echo "Machine: $(nproc) cores ($CPU_MODEL), $(uname -r); $BUSY_LABEL"
    echo "Versions: $HAPROXY_VERSION; $OPENSSL_VERSION; portcullis: $PC_VERSION (git $GIT_REV)"
    echo "Setup: $WORKERS workers/threads each, same certificates, client offers only AES-128-GCM (TLS 1.3: TLS_AES_128_GCM_SHA256, TLS 1.2: ECDHE-*-AES128-GCM-SHA256), X25519;"
    echo "       $ROUNDS rounds of ${WARMUP}s warm-up + ${DURATION}s measured per figure and server (mean shown); handshakes: $HS_CONNS in flight; memory: fresh servers, ECDSA, TLS 1.3."
    for s in "${SERVERS[@]}"; do
        [ -n "${UNAVAILABLE[$s]:-}" ] && echo "NOTE: $s unavailable: ${UNAVAILABLE[$s]}"
    done
    echo
    printf '%-48s %12s %12s %8s  %-7s %8s  %s\n' "Figure" "HAProxy" "Portcullis" "P/H" "better" "CPU P/H" "server CPU per op (HAProxy | Portcullis) and notes"
    for key in "${FIGURES[@]}"; do
        h=${VAL[$key,haproxy]:-n/a}; p=${VAL[$key,portcullis]:-n/a}
        cpu_unit="µs/hs"; [[ "$key" == bulk* ]] && cpu_unit="s/GB"; [[ "$key" == mem* ]] && cpu_unit="RSS KiB baseline->loaded->closed"
        extra="${CPU[$key,haproxy]:--} | ${CPU[$key,portcullis]:--} $cpu_unit"
        n="${NOTE[$key,haproxy]:-}${NOTE[$key,haproxy]:+ (H) }${NOTE[$key,portcullis]:-}${NOTE[$key,portcullis]:+ (P)}"
        printf '%-48s %12s %12s %8s  %-7s %8s  %s\n' "${LABEL[$key]} [${UNIT[$key]}]" "$h" "$p" "$(ratio "$h" "$p")" "${BETTER[$key]}" "$(ratio "${CPU[$key,haproxy]:-}" "${CPU[$key,portcullis]:-}")" "$extra${n:+; $n}"
    done
} >"$OUT/summary.txt"

{
    echo "Run of $END_DATE on $(nproc) cores ($CPU_MODEL). $BUSY_LABEL."
    echo
    echo "Versions: $HAPROXY_VERSION; $OPENSSL_VERSION; portcullis: $PC_VERSION (git $GIT_REV)."
    for s in "${SERVERS[@]}"; do
        [ -n "${UNAVAILABLE[$s]:-}" ] && echo && echo "**$s unavailable:** ${UNAVAILABLE[$s]}"
    done
    echo
    echo "| Figure | HAProxy | Portcullis | Portcullis/HAProxy | better | server CPU per op, HAProxy / Portcullis (P/H) |"
    echo "|---|---:|---:|---:|---|---|"
    for key in "${FIGURES[@]}"; do
        h=${VAL[$key,haproxy]:-n/a}; p=${VAL[$key,portcullis]:-n/a}
        cpu_unit="µs/handshake"; [[ "$key" == bulk* ]] && cpu_unit="CPU s/GB"; [[ "$key" == mem* ]] && cpu_unit="RSS KiB baseline→loaded→after close"
        n="${NOTE[$key,haproxy]:+H: ${NOTE[$key,haproxy]} }${NOTE[$key,portcullis]:+P: ${NOTE[$key,portcullis]}}"
        cr=$(ratio "${CPU[$key,haproxy]:-}" "${CPU[$key,portcullis]:-}"); [ "$cr" = - ] && cr="" || cr=" ($cr)"
        echo "| ${LABEL[$key]} (${UNIT[$key]}) | $h | $p | **$(ratio "$h" "$p")** | ${BETTER[$key]} | ${CPU[$key,haproxy]:--} / ${CPU[$key,portcullis]:--} $cpu_unit$cr${n:+; $n} |"
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
say "results in ${OUT#$ROOT/} (summary.txt, summary.md, raw.tsv, logs/)"
