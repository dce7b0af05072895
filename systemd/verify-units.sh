#!/usr/bin/env bash
# Checks the systemd units with `systemd-analyze verify` (CI runs it; so can anyone with systemd installed).
#
# verify insists that ExecStart= points at an executable, /usr/local/bin/portcullis. When nothing is
# installed there, the freshly built binary (argument 1, default .build/debug/portcullis) is copied there
# for the duration of the check and removed afterwards. Works without systemd as PID 1 (containers):
# generators and man-page checks are off, and the unit's own messages are what fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-.build/debug/portcullis}
target=/usr/local/bin/portcullis
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

placed=
cleanup() { if [ -n "$placed" ]; then $SUDO rm -f "$target"; fi; }
trap cleanup EXIT
if [ ! -e "$target" ]; then
    [ -x "$binary" ] || { echo "verify-units: $binary is not built" >&2; exit 1; }
    $SUDO install -D -m 0755 "$binary" "$target"
    placed=1
fi

log=$(mktemp)
if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --generators=no \
        systemd/portcullis.service systemd/portcullis.socket >"$log" 2>&1; then
    cat "$log" >&2
    echo "verify-units: systemd-analyze verify failed" >&2
    exit 1
fi
# verify exits 0 on some unit warnings (unknown keys, bad values are only logged): fail on any line
# about our units.
if grep -E 'portcullis\.(service|socket)' "$log"; then
    echo "verify-units: systemd-analyze reported problems in the units (above)" >&2
    exit 1
fi
echo "verify-units: portcullis.service and portcullis.socket pass systemd-analyze verify"
