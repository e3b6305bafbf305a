#!/usr/bin/env bash
# fetch-kafka.sh - fetch Apache Kafka's jars from Maven Central, once.
#
# The tests that run against Apache Kafka start `java -cp <libs>/* kafka.Kafka`
# (KRaft, broker and controller in one process) after `kafka.tools.StorageTool
# format`; both live in org.apache.kafka:kafka_2.13 and its runtime
# dependencies. log4j-slf4j-impl routes the broker's slf4j logging into log4j2,
# which the tests configure to write to a file.
#
# Maven (mvn) resolves the jars into its local repository and copies them to
# ${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}/kafka-<version>/libs.
# A second run finds the finished directory and does nothing.
#
# Progress goes to stderr, one "fetch-kafka: ..." line per action. stdout is
# the libs directory, one line, for `java -cp "<dir>/*"`.
set -euo pipefail

KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3 # the log4j2 that kafka_2.13 $KAFKA_VERSION depends on
CACHE="${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}"
libs="$CACHE/kafka-$KAFKA_VERSION/libs"

log() { printf 'fetch-kafka: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# .complete is written last: a directory without it is an interrupted fetch.
if [ -f "$libs/.complete" ]; then
  log "reusing Apache Kafka $KAFKA_VERSION at $libs"
  echo "$libs"
  exit 0
fi

command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH; install Maven (Debian package maven) to fetch Apache Kafka"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-failover</groupId>
  <artifactId>apache-kafka-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF

log "fetching Apache Kafka $KAFKA_VERSION (kafka_2.13 and its runtime dependencies) from Maven Central into $libs..."
mkdir -p "$(dirname "$libs")"
partial="$libs.partial.$$"
rm -rf "$partial"
# Maven's own output goes to stderr: stdout carries only the directory.
if ! mvn -B -q -f "$tmp/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$partial" >&2; then
  rm -rf "$partial"
  die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see Maven's output above)"
fi
[ -f "$partial/kafka_2.13-$KAFKA_VERSION.jar" ] || die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing from $partial"
touch "$partial/.complete"
[ -f "$libs/.complete" ] || rm -rf "$libs" # what an interrupted run left
# Atomic: readers see all of it or none; if a concurrent run won, keep its copy.
mv -T "$partial" "$libs" 2>/dev/null || rm -rf "$partial"
log "Apache Kafka $KAFKA_VERSION: $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
echo "$libs"
