# syntax=docker/dockerfile:1
# Portcullis container image.
#
#   docker build -t portcullis .
#   docker run --rm -p 443:8443 -v /srv/portcullis:/etc/portcullis:ro portcullis
#
# Lock-step with CI: every RUN below calls one step of docker/steps.sh, and docker/build-like-dockerfile.sh
# (run by .ci/run, where Docker cannot run) calls the same steps on the same Debian release (bookworm).
# Add or change a step in docker/steps.sh, never as a bare command here, so both stay the same.

# ---- build: the official Swift image on Debian bookworm ------------------------------------------------
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY docker/steps.sh docker/steps.sh
RUN sh docker/steps.sh build-packages
COPY Package.swift ./
COPY Sources ./Sources
# Package.swift declares the test targets too; they are not built (--product portcullis).
COPY Tests ./Tests
COPY docker/portcullis.toml docker/portcullis.toml
RUN sh docker/steps.sh build /src
RUN sh docker/steps.sh assemble /src /rootfs

# ---- runtime: slim Debian, OpenSSL 3 and zlib only, no Swift toolchain -----------------------------------
FROM debian:bookworm-slim
COPY --from=build /src/docker/steps.sh /usr/local/share/portcullis/steps.sh
RUN sh /usr/local/share/portcullis/steps.sh runtime-packages
COPY --from=build /rootfs/ /
RUN sh /usr/local/share/portcullis/steps.sh runtime-user / \
 && setpriv --reuid=portcullis --regid=portcullis --init-groups sh /usr/local/share/portcullis/steps.sh smoke /

USER portcullis:portcullis
EXPOSE 8443
# SIGTERM drains: no new connections, open ones get [global] drain_timeout to finish (keep it below the
# stop timeout: docker stop -t).
STOPSIGNAL SIGTERM
# Asks the running proxy's /healthz (metrics_listen in the configuration): unhealthy while draining or when
# a worker loop is stuck. A configuration without metrics_listen makes the check fail: keep
# `metrics_listen = "127.0.0.1:9090"` in yours, or override HEALTHCHECK.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/portcullis", "health", "--quiet", "--config", "/etc/portcullis/portcullis.toml"]
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["run", "--config", "/etc/portcullis/portcullis.toml"]
