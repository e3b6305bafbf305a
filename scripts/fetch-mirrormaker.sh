#!/usr/bin/env bash
# fetch-mirrormaker.sh - fetch MirrorMaker 2's jars from Maven Central, once.
#
# `make bench-mm2` and the tests of internal/kafkatest/mm2 run MirrorMaker 2
# in dedicated mode (`java -cp <kafka libs>/*:<mirrormaker libs>/*
# org.apache.kafka.connect.mirror.MirrorMaker`). It lives in
# org.apache.kafka:connect-mirror and needs Kafka Connect's runtime; both are
# released with the brokers, so the version is fetch-kafka.sh's.
#
# The broker's jar set (fetch-kafka.sh) already holds kafka-clients, jackson,
# slf4j and log4j2; this script keeps only the jars that set lacks, in
# ${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}/kafka-<version>/mirrormaker-libs,
# and stops if both sets hold one artifact in two versions (the two
# directories share one class path, where the first copy would win silently).
# Maven checks each jar's checksum as it downloads it (--strict-checksums).
#
# Progress goes to stderr, one "fetch-mirrormaker: ..." line per action.
# stdout is the mirrormaker libs directory, one line.
set -euo pipefail
shopt -s inherit_errexit

CACHE="${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}"

log() { printf 'fetch-mirrormaker: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

kafka_libs=$("$(dirname "$0")/fetch-kafka.sh") || die "fetching Apache Kafka failed (see output above)"
KAFKA_VERSION=$(sed -n 's/^KAFKA_VERSION=//p' "$(dirname "$0")/fetch-kafka.sh")
[ -n "$KAFKA_VERSION" ] || die "could not read KAFKA_VERSION from fetch-kafka.sh"
libs="$CACHE/kafka-$KAFKA_VERSION/mirrormaker-libs"

# .complete is written last: a directory without it is an interrupted fetch.
if [ -f "$libs/.complete" ]; then
  log "reusing MirrorMaker 2 $KAFKA_VERSION at $libs"
  echo "$libs"
  exit 0
fi

command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH; install Maven (Debian package maven) to fetch MirrorMaker 2"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deps=""
for a in connect-mirror connect-mirror-client connect-runtime connect-api connect-json connect-transforms; do
  deps+="<dependency><groupId>org.apache.kafka</groupId><artifactId>$a</artifactId><version>$KAFKA_VERSION</version></dependency>"
done
cat > "$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-failover</groupId>
  <artifactId>mirrormaker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>$deps</dependencies>
</project>
POM

log "fetching MirrorMaker 2 $KAFKA_VERSION (connect-mirror, connect-runtime and their runtime dependencies) from Maven Central..."
if ! mvn -B -q --strict-checksums -f "$tmp/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp/all" >&2; then
  die "mvn could not resolve org.apache.kafka:connect-mirror:$KAFKA_VERSION (see Maven's output above)"
fi
[ -f "$tmp/all/connect-mirror-$KAFKA_VERSION.jar" ] || die "Maven finished but connect-mirror-$KAFKA_VERSION.jar is missing"

# artifact NAME-VERSION.jar -> NAME (versions start with a digit).
artifact() { sed -E 's/-[0-9][^/]*\.jar$//' <<<"$1"; }
mkdir -p "$(dirname "$libs")"
partial="$libs.partial.$$"
rm -rf "$partial" && mkdir "$partial"
for jar in "$tmp"/all/*.jar; do
  name=$(basename "$jar")
  [ -f "$kafka_libs/$name" ] && continue # the broker's set has this very jar
  for other in "$kafka_libs"/"$(artifact "$name")"-[0-9]*.jar; do
    [ -e "$other" ] || continue
    [ "$(artifact "$(basename "$other")")" = "$(artifact "$name")" ] || continue
    rm -rf "$partial"
    die "MirrorMaker 2 needs $name but Apache Kafka's set holds $(basename "$other"); they cannot share a class path"
  done
  cp "$jar" "$partial/"
done
touch "$partial/.complete"
[ -f "$libs/.complete" ] || rm -rf "$libs" # what an interrupted run left
# Atomic: readers see all of it or none; if a concurrent run won, keep its copy.
mv -T "$partial" "$libs" 2>/dev/null || rm -rf "$partial"
log "MirrorMaker 2 $KAFKA_VERSION: $(find "$libs" -name '*.jar' | wc -l) jars beside Apache Kafka's $(find "$kafka_libs" -name '*.jar' | wc -l) in $libs"
echo "$libs"
