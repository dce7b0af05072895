#!/usr/bin/env bash
# Runs the shipped units under a real systemd (PID 1 of a systemd-nspawn container) and checks what
# `systemd-analyze verify` (verify-units.sh) cannot: Type=notify start, reload and stop, the watchdog,
# socket activation, journal priorities and the hardening against the real Swift binary.
#
# NOT part of CI: it needs root, debootstrap (a ~300 MB Debian bookworm rootfs, a few minutes) and
# systemd-nspawn. Run it by hand on a Debian/Ubuntu machine or VM:
#
#   sudo systemd/verify-under-systemd.sh [path/to/release/portcullis]
#
# Without an argument it builds `swift build -c release --static-swift-stdlib --product portcullis`.
# PC_BASE=/var/tmp/pc-base keeps the debootstrapped rootfs there and reuses it on the next run (each run
# still boots a fresh copy). The container has its own network namespace (--private-network), so the
# fixed ports (8443, 443, 8080) cannot clash with anything on the host. Every check prints PASS or FAIL;
# the exit status is the number of failures (capped at 100). On exit the container is powered off and
# the copied rootfs, leftover mounts and the container's cgroups are removed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

[ "$(id -u)" = 0 ] || { echo "verify-under-systemd: run as root" >&2; exit 1; }

machine=pcverify
work=
nspawn_pid=
init_pid=
cgroups_before=
failures=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
info() { echo "----- $*"; }
# check DESCRIPTION COMMAND...: PASS when the command succeeds.
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

# Runs a command inside the container (all its namespaces), as its root.
in_ct() { nsenter -t "$init_pid" -a "$@"; }
ct_sh() { nsenter -t "$init_pid" -a /bin/sh -c "$1"; }
prop() { in_ct systemctl show -p "$2" --value "$1"; }
# A point in the journal: the container's clock (journalctl 252 loses -p matches after --after-cursor,
# --since works with them).
cursor() { local t; t=$(in_ct date +%s.%N); sleep 0.01; echo "@$t"; }
journal_after() { local c=$1; shift; in_ct journalctl --no-pager --since="$c" "$@"; }
# journald reads the service's stdout/stderr stream asynchronously: give a line up to 5 s to appear.
journal_wait() { local c=$1 pattern=$2; shift 2
    for _ in $(seq 1 25); do journal_after "$c" "$@" | grep -q -- "$pattern" && return 0; sleep 0.2; done; return 1; }

cleanup() {
    set +e
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        info "cleanup: powering off the container"
        [ -n "$init_pid" ] && in_ct systemctl poweroff --no-block >/dev/null 2>&1
        for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$nspawn_pid" 2>/dev/null; then kill -TERM "$nspawn_pid"; sleep 5; fi
        if kill -0 "$nspawn_pid" 2>/dev/null; then kill -KILL "$nspawn_pid"; fi
        wait "$nspawn_pid" 2>/dev/null
    fi
    # Cgroups the container created in the host's named hierarchies (nspawn --keep-unit makes
    # payload/ and supervisor/ next to its own cgroup); only ones that did not exist before the boot.
    if [ -n "$cgroups_before" ]; then
        find /sys/fs/cgroup/systemd /sys/fs/cgroup/unified -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort >"$cgroups_before.after"
        comm -13 "$cgroups_before" "$cgroups_before.after" | while read -r d; do
            find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        rm -f "$cgroups_before" "$cgroups_before.after"
    fi
    if [ -n "$work" ]; then
        # Mounts nspawn may leave behind if it was killed.
        grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
info "binary"
binary=${1:-}
if [ -z "$binary" ]; then
    swift build -c release --static-swift-stdlib --product portcullis || { echo "build failed" >&2; exit 1; }
    binary="$(swift build -c release --static-swift-stdlib --show-bin-path)/portcullis"
fi
[ -x "$binary" ] || { echo "verify-under-systemd: $binary is not an executable" >&2; exit 1; }
libs=$(ldd "$binary" | awk '/=>/ {print $1}' | sed 's/\.so.*//' | sort -u | tr '\n' ' ')
check "ldd shows only system C/C++/OpenSSL libraries: $libs" \
    bash -c "! ldd '$binary' | awk '/=>/ {print \$1}' | grep -vE '^(libc|libm|libstdc\+\+|libgcc_s|libssl|libcrypto|libz)\.so'"

info "host tools"
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    apt-get install -y debootstrap systemd-container >/dev/null || { echo "apt-get install failed" >&2; exit 1; }
fi

info "rootfs"
work=$(mktemp -d /var/tmp/pc-verify.XXXXXX)
root=$work/root
packages=systemd,systemd-sysv,dbus,openssl,libssl3,curl,python3,procps,iproute2
if [ -n "${PC_BASE:-}" ] && [ -x "$PC_BASE/lib/systemd/systemd" ]; then
    cp -a "$PC_BASE" "$root"
else
    target=${PC_BASE:-$root}
    debootstrap --variant=minbase --include=$packages bookworm "$target" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; echo "debootstrap failed" >&2; exit 1; }
    [ "$target" = "$root" ] || cp -a "$target" "$root"
fi
echo "$machine" >"$root/etc/hostname"

info "boot"
cgroups_before=$work/cgroups.before
find /sys/fs/cgroup/systemd /sys/fs/cgroup/unified -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort >"$cgroups_before"
# --register=no/--keep-unit: the host need not run systemd/machined. The legacy cgroup layout works
# with a host that has cgroup v1 (+ an empty v2 hierarchy), as in many containers and CI VMs.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${SYSTEMD_NSPAWN_UNIFIED_HIERARCHY:-0} \
    systemd-nspawn --quiet --register=no --keep-unit --private-network --console=pipe \
    -M "$machine" -D "$root" -b </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
# The container's PID 1 is the child of systemd-nspawn that has become systemd (not yet at first).
for _ in $(seq 1 150); do
    for c in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
        [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && init_pid=$c
    done
    [ -n "$init_pid" ] && break
    sleep 0.2
done
[ -n "$init_pid" ] || { cat "$work/console.log" >&2; echo "systemd-nspawn did not start" >&2; exit 1; }
state=$(timeout 90 nsenter -t "$init_pid" -a systemctl is-system-running --wait 2>/dev/null)
check "container systemd booted (is-system-running: $state)" test "$state" = running -o "$state" = degraded
[ "$state" = running ] || [ "$state" = degraded ] || { cat "$work/console.log"; exit 1; }

info "install (README.md, Run as a service)"
install -m 0755 "$binary" "$root/usr/local/bin/portcullis"
install -D -m 0644 systemd/portcullis.sysusers "$root/usr/lib/sysusers.d/portcullis.conf"
install -m 0644 systemd/portcullis.service systemd/portcullis.socket "$root/etc/systemd/system/"
in_ct systemd-sysusers
in_ct systemctl daemon-reload
in_ct install -d -m 0750 -o root -g portcullis /etc/portcullis
install -m 0640 etc/portcullis/portcullis.toml "$root/etc/portcullis/portcullis.toml"
in_ct chgrp portcullis /etc/portcullis/portcullis.toml
check "user portcullis exists" in_ct id portcullis
# The backend: python's http.server, with a 1 MiB file for the drain test.
in_ct install -d /srv/backend
head -c 1048576 /dev/urandom >"$root/srv/backend/big.bin"
in_ct systemd-run --quiet --unit=pc-backend -p WorkingDirectory=/srv/backend \
    python3 -m http.server 8080 --bind 127.0.0.1
for _ in $(seq 1 50); do in_ct curl -fs -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.2; done
check "backend answers on 127.0.0.1:8080" in_ct curl -fs -o /dev/null http://127.0.0.1:8080/

curl_code() { in_ct curl -sk -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# ---------------------------------------------------------------------------------------------------
info "A. the sample configuration's self_signed_if_missing under ProtectSystem=strict"
c=$(cursor)
in_ct systemctl start portcullis 2>/dev/null
check "start fails: /etc/portcullis is read-only for the service" \
    bash -c "[ \"\$(nsenter -t $init_pid -a systemctl show -p Result --value portcullis)\" = exit-code ]"
check "the journal says why (Read-only file system)" \
    journal_wait "$c" 'Read-only file system' -u portcullis -o cat
in_ct systemctl stop portcullis; in_ct systemctl reset-failed portcullis 2>/dev/null
# `portcullis check` as root (README: "sudo portcullis check") creates them instead, owned by root, 0600.
c=$(cursor)
in_ct portcullis check --config /etc/portcullis/portcullis.toml >/dev/null 2>&1
in_ct systemctl start portcullis 2>/dev/null
check "a self-signed key created by a root 'portcullis check' is unreadable by the service (Permission denied)" \
    journal_wait "$c" 'cannot read private key.*Permission denied' -u portcullis -o cat
in_ct systemctl stop portcullis; in_ct systemctl reset-failed portcullis 2>/dev/null
rm -rf "$root/etc/portcullis/certs"

info "   development certificates as README.md says (dev-ca outside /etc/portcullis, dev-server into it)"
ct_sh 'portcullis cert dev-ca --out /root/portcullis-dev-ca >/dev/null &&
       portcullis cert dev-server localhost 127.0.0.1 ::1 --ca /root/portcullis-dev-ca --out /etc/portcullis >/dev/null &&
       chown root:portcullis /etc/portcullis/localhost.pem /etc/portcullis/localhost.key &&
       chmod 0640 /etc/portcullis/localhost.key'
sed -i -e 's|^certificate = "certs/dev.crt"|certificate = "localhost.pem"|' \
       -e 's|^key = "certs/dev.key"|key = "localhost.key"|' \
       -e 's|^self_signed_if_missing = true|self_signed_if_missing = false|' "$root/etc/portcullis/portcullis.toml"
check "portcullis check accepts the installed configuration" \
    in_ct portcullis check --config /etc/portcullis/portcullis.toml
check "portcullis check as the service user can read every file" \
    in_ct setpriv --reuid=portcullis --regid=portcullis --init-groups portcullis check --config /etc/portcullis/portcullis.toml

# Everything from here on must not produce permission errors, SIGSYS or core dumps.
clean_cursor=$(cursor)

# ---------------------------------------------------------------------------------------------------
info "B. systemctl start (Type=notify READY=1)"
check "systemctl start portcullis returns 0" in_ct systemctl start portcullis
check "active (running)" test "$(prop portcullis ActiveState)/$(prop portcullis SubState)" = active/running
status=$(prop portcullis StatusText)
check "StatusText from the proxy: \"$status\"" bash -c "[[ '$status' == serving* ]]"
in_ct systemctl status portcullis --no-pager -n 0 | sed 's/^/    /'
check "curl -k https://127.0.0.1:8443/ reaches the backend" \
    bash -c "nsenter -t $init_pid -a curl -sk --max-time 10 https://127.0.0.1:8443/ | grep -q 'Directory listing'"
check "curl -k https://[::1]:8443/ returns 200" test "$(curl_code 'https://[::1]:8443/')" = 200

info "C. unprivileged, capabilities dropped"
pid=$(prop portcullis MainPID)
st=$(in_ct cat "/proc/$pid/status")
echo "$st" | grep -E '^(Uid|Gid|CapPrm|CapEff|CapAmb|CapBnd|NoNewPrivs|Seccomp):' | sed 's/^/    /'
check "runs as uid of portcullis" bash -c "[ \"\$(echo '$st' | awk '/^Uid:/ {print \$2}')\" = \"$(in_ct id -u portcullis)\" ]"
check "CapEff = 0 after binding" bash -c "echo '$st' | grep -qx 'CapEff:[[:space:]]*0000000000000000'"
check "CapPrm = 0 and CapAmb = 0" bash -c "echo '$st' | grep -qx 'CapPrm:[[:space:]]*0000000000000000' && echo '$st' | grep -qx 'CapAmb:[[:space:]]*0000000000000000'"
check "seccomp filter active, NoNewPrivs" bash -c "echo '$st' | grep -qx 'Seccomp:[[:space:]]*2' && echo '$st' | grep -qx 'NoNewPrivs:[[:space:]]*1'"

info "D. systemctl reload (RELOADING=1 ... READY=1)"
c=$(cursor)
ct_sh 'for i in $(seq 1 300); do systemctl show -p ActiveState --value portcullis; sleep 0.005; done | uniq' \
    >"$work/states" &
poller=$!
sleep 0.3
check "systemctl reload portcullis returns 0" in_ct systemctl reload portcullis
# Read at once: when reload has returned the proxy must have finished (systemd waited for its READY=1,
# which carries STATUS=configuration reloaded; before it was "serving with ...").
status=$(prop portcullis StatusText)
check "reload returned after the proxy's READY=1 (StatusText: $status)" test "$status" = "configuration reloaded"
check "the proxy logged the reload" journal_wait "$c" 'configuration reloaded' -u portcullis -o cat
wait "$poller"
echo "    ActiveState during the reload: $(tr '\n' ' ' <"$work/states")"
check "state went active -> reloading -> active" grep -qx reloading "$work/states"
journal_after "$c" -u portcullis -o short-precise | sed 's/^/    /'

info "E. reload with a broken configuration"
pid=$(prop portcullis MainPID)
cp "$root/etc/portcullis/portcullis.toml" "$work/good.toml"
printf '\n[[host]]\nname = 42\n' >>"$root/etc/portcullis/portcullis.toml"
c=$(cursor)
in_ct systemctl reload portcullis
status=$(prop portcullis StatusText)
echo "    StatusText=$status"
check "still active (running), same MainPID" \
    test "$(prop portcullis ActiveState)/$(prop portcullis SubState)/$(prop portcullis MainPID)" = "active/running/$pid"
check "StatusText names the failure with file:line" bash -c "[[ \"\$1\" == 'reload failed, serving the previous configuration: /etc/portcullis/portcullis.toml:'* ]]" _ "$status"
check "still serving" test "$(curl_code https://127.0.0.1:8443/)" = 200
journal_wait "$c" 'reload failed' -u portcullis -o cat
err=$(journal_after "$c" -u portcullis -p err -o verbose --output-fields=PRIORITY,MESSAGE)
echo "$err" | grep -E 'PRIORITY|MESSAGE' | sed 's/^/    /'
check "the failure is logged at PRIORITY=3 (err)" bash -c "echo \"\$1\" | grep -q 'PRIORITY=3' && echo \"\$1\" | grep -q 'reload failed'" _ "$err"
cp "$work/good.toml" "$root/etc/portcullis/portcullis.toml"
in_ct systemctl reload portcullis
check "a good configuration reloads again" test "$(prop portcullis StatusText)" = "configuration reloaded"

info "F. journal priorities (journalctl -p)"
pri=$(journal_after "$clean_cursor" -u portcullis -t portcullis -o verbose --output-fields=PRIORITY,MESSAGE)
check "info lines carry PRIORITY=6" bash -c "echo \"\$1\" | grep -B1 'MESSAGE=info portcullis: serving with' | grep -q 'PRIORITY=6'" _ "$pri"
check "access-log lines carry PRIORITY=6" bash -c "echo \"\$1\" | grep -B1 'MESSAGE=.*client=127.0.0.1' | grep -q 'PRIORITY=6'" _ "$pri"
check "no '<N>' prefix left in any message" bash -c "! echo \"\$1\" | grep -q 'MESSAGE=<[0-7]>'" _ "$pri"
warn=$(journal_after "$clean_cursor" -u portcullis -t portcullis -p warning -o verbose --output-fields=PRIORITY)
check "-p warning returns only PRIORITY<=4 lines, and some" \
    bash -c "echo \"\$1\" | grep -q PRIORITY= && ! echo \"\$1\" | grep -E 'PRIORITY=[5-7]'" _ "$warn"
journal_after "$clean_cursor" -u portcullis -t portcullis -p warning -o cat | sort | uniq -c | sed 's/^/    /'

info "G. hardening"
in_ct systemd-analyze security portcullis.service --no-pager >"$work/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for portcullis.service: \([0-9.]*\).*/\1/p' "$work/security")
echo "    $(grep 'Overall exposure' "$work/security")"
check "systemd-analyze security exposure $score <= 2.0" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'

info "H. systemctl stop drains and exits 0"
c=$(cursor)
# A 1 MiB download at 256 KiB/s (~4 s) is in flight when the stop arrives.
in_ct curl -sk --limit-rate 256k --max-time 40 -o /dev/null -w '%{http_code} %{size_download}\n' \
    https://127.0.0.1:8443/big.bin >"$work/drain" &
dl=$!
sleep 1
start=$(date +%s)
in_ct systemctl stop portcullis
took=$(( $(date +%s) - start ))
wait "$dl"
echo "    stop took ${took}s; in-flight download: $(cat "$work/drain")"
check "the in-flight download completed (200, 1048576 bytes)" test "$(cat "$work/drain")" = "200 1048576"
echo "    Result=$(prop portcullis Result) ExecMainStatus=$(prop portcullis ExecMainStatus)"
check "Result=success, exit status 0" test "$(prop portcullis Result)/$(prop portcullis ExecMainStatus)" = success/0
journal_after "$c" -u portcullis -o cat | grep -v 'client=' | sed 's/^/    /'

info "I. seccomp: the same paths with violations killing the process (SIGSYS) instead of EPERM"
dmesg_before=$(dmesg 2>/dev/null | wc -l)
mkdir -p "$root/etc/systemd/system/portcullis.service.d"
printf '[Service]\nSystemCallErrorNumber=\n' >"$root/etc/systemd/system/portcullis.service.d/90-verify-seccomp-kill.conf"
in_ct systemctl daemon-reload
check "start with SystemCallErrorNumber=kill" in_ct systemctl start portcullis
for _ in 1 2 3 4 5; do curl_code https://127.0.0.1:8443/ >/dev/null; done
curl_code 'https://[::1]:8443/' >/dev/null
in_ct systemctl reload portcullis
check "serves after traffic and a reload" test "$(curl_code https://127.0.0.1:8443/)" = 200
in_ct systemctl stop portcullis
check "stopped with Result=success (no SIGSYS)" test "$(prop portcullis Result)/$(prop portcullis ExecMainStatus)" = success/0
check "no seccomp kill of portcullis in the kernel log" \
    bash -c "! dmesg 2>/dev/null | tail -n +$((dmesg_before + 1)) | grep 'type=1326' | grep -q 'portcullis'"
rm -f "$root/etc/systemd/system/portcullis.service.d/90-verify-seccomp-kill.conf"
in_ct systemctl daemon-reload

info "J. permission errors, SIGSYS, core dumps during start, reload, traffic and stop"
bad=$(journal_after "$clean_cursor" -u portcullis -o cat | grep -Ei 'operation not permitted|permission denied|status=31/SYS|dumped core|core dump' || true)
check "none in the journal" test -z "$bad"
[ -z "$bad" ] || echo "$bad" | sed 's/^/    /'

# ---------------------------------------------------------------------------------------------------
info "K. watchdog (WatchdogSec=3 in a test drop-in)"
printf '[Service]\nWatchdogSec=3\n' >"$root/etc/systemd/system/portcullis.service.d/90-verify-watchdog.conf"
in_ct systemctl daemon-reload
in_ct systemctl start portcullis
w1=$(prop portcullis WatchdogTimestampMonotonic); sleep 2.5; w2=$(prop portcullis WatchdogTimestampMonotonic)
check "WATCHDOG=1 pings arrive (WatchdogTimestampMonotonic $w1 -> $w2)" test "$w1" != "$w2"
pid=$(prop portcullis MainPID)
c=$(cursor)
in_ct kill -STOP "$pid"
sleep 8
echo "    $(in_ct systemctl show -p MainPID,NRestarts,ActiveState portcullis | tr '\n' ' ')"
check "the stopped process was killed by the watchdog" \
    journal_wait "$c" "Failed with result 'watchdog'" -u portcullis -o cat
check "and restarted (NRestarts=1, new MainPID, active)" \
    test "$(prop portcullis NRestarts)/$(prop portcullis ActiveState)" = 1/active -a "$(prop portcullis MainPID)" != "$pid"
in_ct systemctl stop portcullis
rm -f "$root/etc/systemd/system/portcullis.service.d/90-verify-watchdog.conf"
in_ct systemctl daemon-reload
in_ct systemctl reset-failed portcullis 2>/dev/null

# ---------------------------------------------------------------------------------------------------
info "L. socket activation (portcullis.socket, FileDescriptorName=https)"
c=$(cursor)
check "systemctl enable --now portcullis.socket" in_ct systemctl enable --now --quiet portcullis.socket
check "service not running before the first connection" test "$(prop portcullis.service ActiveState)" = inactive
check "curl -k https://127.0.0.1/ (port 443) returns 200" test "$(curl_code https://127.0.0.1/)" = 200
check "curl -k https://[::1]/ returns 200" test "$(curl_code 'https://[::1]/')" = 200
check "the connection started the service" test "$(prop portcullis.service ActiveState)" = active
echo "    StatusText=$(prop portcullis StatusText)"
check "the proxy took fd 3 by its name" \
    journal_wait "$c" 'fd 3 (name "https"' -u portcullis -o cat
pid=$(prop portcullis MainPID)
check "CapEff = 0 in the socket-activated service" \
    bash -c "nsenter -t $init_pid -a grep -qx 'CapEff:[[:space:]]*0000000000000000' /proc/$pid/status"
ct_sh 'ok=0; bad=0; end=$(( $(date +%s) + 8 ))
       while [ $(date +%s) -lt $end ]; do
           code=$(curl -sk -o /dev/null -w "%{http_code}" --max-time 10 https://127.0.0.1/); rc=$?
           if [ $rc = 0 ] && [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "curl rc=$rc code=$code"; fi
       done
       echo "ok=$ok bad=$bad"' >"$work/loop" &
loop=$!
sleep 2; in_ct systemctl restart portcullis.service; sleep 1.5; in_ct systemctl restart portcullis.service
wait "$loop"
echo "    client loop during two restarts: $(tail -1 "$work/loop")"
check "no failed connection during systemctl restart" grep -q ' bad=0$' "$work/loop"
check "restarted service serves from the socket" test "$(curl_code https://127.0.0.1/)" = 200
in_ct systemctl stop portcullis.socket portcullis.service
check "stop: Result=success" test "$(prop portcullis Result)/$(prop portcullis ExecMainStatus)" = success/0
bad=$(journal_after "$c" -u portcullis -o cat | grep -Ei 'operation not permitted|permission denied|status=31/SYS|dumped core' || true)
check "no permission errors, SIGSYS or core dumps with socket activation" test -z "$bad"

echo
if [ "$failures" = 0 ]; then echo "verify-under-systemd: all checks passed"; else echo "verify-under-systemd: $failures check(s) FAILED"; fi
exit $(( failures > 100 ? 100 : failures ))
