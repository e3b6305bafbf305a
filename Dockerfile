# The agent's container image: the static binary of a release archive (or of
# `CGO_ENABLED=0 make build`) on a minimal base without a shell.
#
#   docker build -t kafka-failover-agent:VERSION --build-arg BINARY=bin/kafka-failover-agent .
FROM gcr.io/distroless/static-debian12:nonroot
ARG BINARY=kafka-failover-agent
COPY ${BINARY} /usr/local/bin/kafka-failover-agent
# The API port of the README's examples; set --listen to match.
EXPOSE 8443
# distroless's nonroot user, by number so that the runtime can check it is not root.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kafka-failover-agent"]
CMD ["run"]
