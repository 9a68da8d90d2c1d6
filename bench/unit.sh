#!/bin/sh
# bench/unit.sh BIN — how fast does `BIN run` start a pod as a transient
# systemd unit, next to systemd-run starting /bin/true?
#
# Target (issue 18): `acirun run --net=none IMAGE-ID` of a trivial app
# (testapp exit 0, warm store) through its transient unit takes at most 2.5x
# the time of `systemd-run --wait --pipe -q /bin/true` on the same systemd,
# aiming at 1.5x. The in-process path (--no-unit) and /bin/true alone are
# printed for context.
#
# This machine's PID 1 is no systemd, so bench/unitstart boots a real
# systemd in a namespace box (tests/box, tests/README.md) and times the
# commands inside it, alternating them round by round in a shuffled order
# so that a busy machine slows them alike (see bench/unitstart for the
# details and the check that the acirun runs really were units).
#
# Needs root, go (to build tests/testapp and bench/unitstart), and what the
# box needs (systemd, systemd-container, dbus, util-linux). The image is
# built in $BENCH_DIR/unit (default /var/tmp/acirun-bench/unit) and kept.
#
# Before timing, it waits (up to 5 minutes, saying so) until creating a file
# in its directory costs what it does at rest (bench/lib.sh await_settled):
# a start creates some 30 files, which after a large deletion on ext4 without
# a journal cost 35-900 us each instead of 25, and its peers create fewer.
#
# Environment: BENCH_DIR, RUNS (default 30), WARMUP (default 3). Exit
# status 0 on PASS, 1 on FAIL, 2 on usage errors, 254 if the benchmark
# itself could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (the box: namespaces, mounts, cgroups)"
command -v go >/dev/null || die "go is needed to build tests/testapp and bench/unitstart"

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
REPO=$(cd "$(dirname "$0")/.." && pwd)
S=$BENCH_DIR/unit
mkdir -p "$S"

warn_if_loaded 2

ARCH=$(go env GOARCH)
case $ARCH in arm64) ARCH=aarch64 ;; 386) ARCH=i386 ;; esac
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$S/unitstart" ./bench/unitstart &&
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$S/testapp.new" ./tests/testapp) ||
	die "cannot build bench/unitstart and tests/testapp"
if ! cmp -s "$S/testapp.new" "$S/img/rootfs/testapp" || [ ! -s "$S/trivial.aci" ]; then
	rm -rf "$S/img" "$S/trivial.aci"
	mkdir -p "$S/img/rootfs"
	mv "$S/testapp.new" "$S/img/rootfs/testapp"
	cat >"$S/img/manifest" <<-EOM
	{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/trivial",
	 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "$ARCH"}],
	 "app": {"exec": ["/testapp", "exit", "0"], "user": "0", "group": "0"}}
	EOM
	"$BIN" image build --overwrite "$S/img" "$S/trivial.aci" >/dev/null || die "image build failed"
fi
rm -f "$S/testapp.new"
# From the repository: a box binds the bin/ of the Go module around the
# working directory (making it if missing), which elsewhere could be anywhere.
TMP=$(mktemp -d)
settle_disk "$S" 300
rm -rf "$TMP"
cd "$REPO"
exec "$S/unitstart" "$BIN" "$S/trivial.aci"
