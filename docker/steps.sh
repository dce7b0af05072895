#!/bin/sh
# The build steps of the Portcullis container image, shared by the Dockerfile (each RUN line calls one
# step) and by docker/build-like-dockerfile.sh (which CI runs on the same Debian release, bookworm), so
# the two cannot drift apart: change a step here and both follow. Keep them in lock-step when adding one.
#
#   steps.sh build-packages           build stage: the C libraries and tools the Swift build links against
#   steps.sh build SRC                build stage: release build, Swift runtime linked statically
#   steps.sh assemble SRC ROOTFS      build stage: the runtime file tree (binary, config, directories)
#   steps.sh runtime-packages         runtime stage: OpenSSL 3, zlib, CA certificates (nothing else)
#   steps.sh runtime-user ROOTFS      runtime stage: the unprivileged user and what it may write
#   steps.sh smoke ROOTFS             runtime stage: `portcullis version`, `check`, and `run` + the HEALTHCHECK's
#                                     `health` from ROOTFS
set -eu

# What the runtime image installs on top of debian:bookworm-slim. build-like-dockerfile.sh checks with
# ldd that the binary needs nothing else (besides libc, libgcc and libstdc++, already in the slim image).
RUNTIME_PACKAGES="libssl3 zlib1g ca-certificates"
BUILD_PACKAGES="libssl-dev zlib1g-dev pkg-config"
PRODUCT=portcullis

step=${1:?usage: steps.sh STEP [ARGS]}
shift
case "$step" in
build-packages)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $BUILD_PACKAGES >/dev/null
    ;;
build)
    src=${1:?build SRC}
    cd "$src"
    # The Swift standard library and Foundation are linked in, so the runtime image needs no Swift.
    swift build -c release --static-swift-stdlib --product "$PRODUCT"
    ;;
assemble)
    src=${1:?assemble SRC ROOTFS}
    rootfs=${2:?assemble SRC ROOTFS}
    bin=$(cd "$src" && swift build -c release --static-swift-stdlib --show-bin-path)
    install -d -m 0755 "$rootfs/usr/local/bin" "$rootfs/etc/portcullis"
    install -m 0755 "$bin/$PRODUCT" "$rootfs/usr/local/bin/$PRODUCT"
    strip --strip-unneeded "$rootfs/usr/local/bin/$PRODUCT"
    install -m 0644 "$src/docker/portcullis.toml" "$rootfs/etc/portcullis/portcullis.toml"
    # Where the first-run development certificate goes unless a real one is mounted over it.
    install -d -m 0750 "$rootfs/etc/portcullis/certs"
    ;;
runtime-packages)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $RUNTIME_PACKAGES >/dev/null
    rm -rf /var/lib/apt/lists/*
    ;;
runtime-user)
    rootfs=${1:?runtime-user ROOTFS}
    groupadd --system portcullis
    useradd --system --gid portcullis --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin portcullis
    chown portcullis:portcullis "$rootfs/etc/portcullis/certs"
    ;;
smoke)
    rootfs=${1:?smoke ROOTFS}
    "$rootfs/usr/local/bin/$PRODUCT" version
    # `check` on a scratch copy of the configuration: it would create the development certificate next
    # to the file, and an image must not ship one key for every container.
    scratch=$(mktemp -d)
    cp "$rootfs/etc/portcullis/portcullis.toml" "$scratch/portcullis.toml"
    "$rootfs/usr/local/bin/$PRODUCT" check --config "$scratch/portcullis.toml"
    # The HEALTHCHECK command against the shipped configuration, live: healthy while serving, unhealthy
    # once the proxy is gone.
    "$rootfs/usr/local/bin/$PRODUCT" run --config "$scratch/portcullis.toml" >"$scratch/run.log" 2>&1 &
    pid=$!
    healthy=no
    for _ in $(seq 1 100); do
        if "$rootfs/usr/local/bin/$PRODUCT" health --quiet --config "$scratch/portcullis.toml"; then healthy=yes; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || { echo "steps.sh smoke: portcullis run did not exit cleanly:" >&2; cat "$scratch/run.log" >&2; exit 1; }
    if [ "$healthy" != yes ]; then
        echo "steps.sh smoke: portcullis health never reported healthy:" >&2
        cat "$scratch/run.log" >&2
        exit 1
    fi
    if "$rootfs/usr/local/bin/$PRODUCT" health --quiet --timeout 2 --config "$scratch/portcullis.toml"; then
        echo "steps.sh smoke: portcullis health reported healthy with no proxy running" >&2
        exit 1
    fi
    rm -rf "$scratch"
    ;;
print-runtime-packages)
    echo "$RUNTIME_PACKAGES"
    ;;
*)
    echo "steps.sh: unknown step $step" >&2
    exit 2
    ;;
esac
