#!/usr/bin/env bash
# Runs the Dockerfile's steps on this machine (Debian bookworm, like both images' base), for CI where no
# Docker engine runs. Lock-step with the Dockerfile: both call the same docker/steps.sh steps, in the same
# order, on a copy of exactly what the Dockerfile COPYs. Change docker/steps.sh, not this script, to change
# a step.
#
# Build stage, as in the Dockerfile:  build-packages, build, assemble   (in a scratch /src and /rootfs)
# Runtime stage:
#   runtime-packages, runtime-user    not run: they would change this machine. Checked instead: ldd finds
#                                     every library the binary loads, and each one comes from a package
#                                     of debian:bookworm-slim's base (libc6, libgcc-s1, libstdc++6) or
#                                     from RUNTIME_PACKAGES in steps.sh.
#   smoke                             run as an unprivileged user (nobody), as USER portcullis does.
#
# Usage: docker/build-like-dockerfile.sh [WORKDIR]   (default: a temp dir, removed afterwards)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-}
if [ -z "$work" ]; then
    work=$(mktemp -d /tmp/portcullis-docker-XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
src="$work/src"
rootfs="$work/rootfs"
# A reused WORKDIR keeps src/.build (faster reruns) but nothing that COPY or assemble would write.
rm -rf "$src/Sources" "$src/Tests" "$src/docker" "$rootfs"
mkdir -p "$src/docker"

# FROM swift:6.3-bookworm AS build / WORKDIR /src
# COPY docker/steps.sh docker/steps.sh
cp "$repo/docker/steps.sh" "$src/docker/steps.sh"
# RUN sh docker/steps.sh build-packages
$SUDO sh "$src/docker/steps.sh" build-packages
# COPY Package.swift ./ ; COPY Sources ./Sources ; COPY Tests ./Tests ; COPY docker/portcullis.toml ...
cp "$repo/Package.swift" "$src/"
cp -R "$repo/Sources" "$src/Sources"
cp -R "$repo/Tests" "$src/Tests"
cp "$repo/docker/portcullis.toml" "$src/docker/portcullis.toml"
# RUN sh docker/steps.sh build /src
sh "$src/docker/steps.sh" build "$src"
# RUN sh docker/steps.sh assemble /src /rootfs
sh "$src/docker/steps.sh" assemble "$src" "$rootfs"

# FROM debian:bookworm-slim ; RUN steps.sh runtime-packages ; COPY --from=build /rootfs/ /
binary="$rootfs/usr/local/bin/portcullis"
allowed="libc6 libgcc-s1 libstdc++6 $(sh "$src/docker/steps.sh" print-runtime-packages)"
echo "build-like-dockerfile: libraries of the runtime binary (allowed packages: $allowed)"
if ldd "$binary" | grep -F 'not found'; then
    echo "build-like-dockerfile: the binary needs libraries that are not installed (above)" >&2
    exit 1
fi
failed=0
while read -r library; do
    package=$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$package" ] || package=$(dpkg -S "$library" 2>/dev/null | head -1 | cut -d: -f1 || true)
    printf '  %-50s %s\n' "$library" "${package:-?}"
    case " $allowed " in
    *" ${package:-?} "*) ;;
    *) echo "build-like-dockerfile: $library comes from ${package:-no package}, which the runtime image does not install" >&2
       failed=1 ;;
    esac
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
[ "$failed" = 0 ] || exit 1

# RUN steps.sh runtime-user / && setpriv --reuid=portcullis ... steps.sh smoke /
# The scratch tree is made readable to the unprivileged user the smoke step runs as.
chmod -R a+rX "$work"
if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups sh "$src/docker/steps.sh" smoke "$rootfs"
else
    sh "$src/docker/steps.sh" smoke "$rootfs"
fi
echo "build-like-dockerfile: the Dockerfile's steps pass ($(du -h "$binary" | cut -f1) binary)"
