# syntax=docker/dockerfile:1
# The partner-center-operator image: two static binaries, the operator (the entrypoint; `run` by
# default) and the Partner Center emulator (/usr/local/bin/partner-center-emulator, which the chart's
# development emulator runs). Their target and flags live in hack/build-image-binary.sh, shared with
# tests/image.rs, which checks the same build is static.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bash hack/build-image-binary.sh /out/partner-center-operator

# distroless/static: no shell, no libc, CA certificates and /etc/passwd with the nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/partner-center-operator /usr/local/bin/partner-center-operator
COPY --from=build /out/partner-center-emulator /usr/local/bin/partner-center-emulator
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/partner-center-operator"]
CMD ["run"]
