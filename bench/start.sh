#!/bin/sh
# bench/start.sh BIN — how fast does a pod start, and how small is its PID 1?
#
# Targets (issues 5 and 22), all measured side by side on this machine:
#   1. Warm start (image in the store, `BIN run --net=none IMAGE-ID`) of a
#      trivial app (testapp exit 0) in a plain root shell: at most half the
#      time of Debian's `runc run` on the same rootfs (issue 22; issue 5 asked
#      for at most runc's time), aiming at twice bare `unshare` + `chroot`,
#      which is shown as the floor. Debian's `podman run --rm --network=none
#      --rootfs DIR` of the same tree runs alongside, with its ratio printed
#      (no target: issue 22's table has it).
#   2. Per-pod memory: VmRSS of the pod's PID 1 (`acirun-pod init`) while
#      a sleeping app runs, under 4 MB.
#   3. Start cost does not grow with image size: a 250 MB image starts as fast
#      as a 2 MB one, within 20 %.
#
# Needs root, go (to build tests/testapp), runc and podman (Debian: apt-get
# install runc podman; scripts/setup bench does) and unshare (util-linux).
# podman keeps its storage (--root) in $BENCH_DIR/start/podman and its run
# state in a temporary directory, and runs with --cgroup-manager=cgroupfs
# (this machine's PID 1 may be no systemd), --runtime=runc (the runtime of
# the runc peer; Debian's podman prefers crun when both are installed, and
# crun 1.8 refuses these machines' hybrid cgroups: "cgroups in hybrid mode
# not supported") and --ulimit nofile=1024:2048
# --ulimit nproc=1024:2048 (the hard limits here are below podman's
# defaults, which it would fail to set). The commands compared run alternately (see
# alternate in bench/lib.sh), so a busy machine slows them alike. Images, the OCI bundle and the
# data directory live in $BENCH_DIR (default /var/tmp/acirun-bench, which must
# not be on overlayfs); the images are built once and kept.
#
# Before timing, it waits (up to 5 minutes, saying so) until creating a file
# in its directory costs what it does at rest (bench/lib.sh await_settled):
# a start creates some 30 files, which after a large deletion on ext4 without
# a journal cost 35-900 us each instead of 25, and its peers create fewer.
#
# Environment: BENCH_DIR, RUNS (default 30). Exit status 0 on PASS, 1 on
# FAIL, 2 on usage errors, 254 if the benchmark itself could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts)"
command -v go >/dev/null || die "go is needed to build tests/testapp"

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-30}
REPO=$(cd "$(dirname "$0")/.." && pwd)
S=$BENCH_DIR/start
DATA=$S/data
mkdir -p "$S"
TMP=$(mktemp -d)
cleanup() {
	# (|| true: under set -e dash leaves the trap at a failing kill or wait,
	# which a sleeper killed by the signal is, and skips the rest)
	if [ -n "${SLEEPER:-}" ]; then
		kill "$SLEEPER" 2>/dev/null || true
		wait "$SLEEPER" 2>/dev/null || true
	fi
	"$BIN" --dir="$DATA" --run-dir="$TMP/run" gc --grace-period=0s >/dev/null 2>&1 || true
	[ -d "$S/podman" ] && podman $PODMAN_OPTS system reset --force >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
PODMAN_OPTS="--root=$S/podman --runroot=$TMP/podman-run --storage-driver=overlay --events-backend=none --cgroup-manager=cgroupfs --runtime=runc"
A() { "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" --system-config="$S/usr" "$@"; }

warn_if_loaded 2

# --- images ----------------------------------------------------------------
# small: testapp alone (~2 MB compressed); big: the same plus 250 MB of
# incompressible data. Both run `testapp exit 0`.
ARCH=$(go env GOARCH)
case $ARCH in arm64) ARCH=aarch64 ;; 386) ARCH=i386 ;; esac
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$S/testapp.new" ./tests/testapp) ||
	die "cannot build tests/testapp"
if ! cmp -s "$S/testapp.new" "$S/testapp"; then
	mv "$S/testapp.new" "$S/testapp"
	rm -f "$S/small.aci" "$S/big.aci"
else
	rm -f "$S/testapp.new"
fi
layout() { # layout DIR NAME
	rm -rf "$1"
	mkdir -p "$1/rootfs"
	cp "$S/testapp" "$1/rootfs/testapp"
	cat >"$1/manifest" <<-EOF
	{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/$2",
	 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "$ARCH"}],
	 "app": {"exec": ["/testapp", "exit", "0"], "user": "0", "group": "0"}}
	EOF
}
if [ ! -s "$S/small.aci" ]; then
	layout "$S/small" small
	"$BIN" image build --overwrite "$S/small" "$S/small.aci" >/dev/null || die "image build small failed"
fi
if [ ! -s "$S/big.aci" ]; then
	echo "building $S/big.aci (250 MB, once) ..."
	layout "$TMP/big" big
	mkdir -p "$TMP/big/rootfs/data"
	i=0
	while [ $i -lt 25 ]; do
		head -c 10485760 /dev/urandom >"$TMP/big/rootfs/data/blob$i"
		i=$((i + 1))
	done
	"$BIN" image build --overwrite "$TMP/big" "$S/big.aci.tmp" >/dev/null || die "image build big failed"
	mv "$S/big.aci.tmp" "$S/big.aci"
	rm -rf "$TMP/big"
fi
SMALL=$(A fetch --insecure-options=image --full "$S/small.aci" 2>/dev/null) || die "fetch small.aci failed"
BIG=$(A fetch --insecure-options=image --full "$S/big.aci" 2>/dev/null) || die "fetch big.aci failed"
echo "images: small $(($(wc -c <"$S/small.aci") / 1024)) KiB, big $(($(wc -c <"$S/big.aci") / 1048576)) MiB (compressed)"

# The same rootfs for the peers: the rendered tree of the small image.
ROOTFS=$S/bundle/rootfs
rm -rf "$S/bundle"
mkdir -p "$ROOTFS"
cp "$S/testapp" "$ROOTFS/testapp"
# podman makes its mount points (etc/hosts, proc, ...) in the tree it is
# given: a copy of its own, so that runc's stays as the others see it.
PROOTFS=$S/bundle/podman-rootfs
mkdir -p "$PROOTFS"
cp "$S/testapp" "$PROOTFS/testapp"

echo "median of $RUNS alternating runs after 3 warm-ups, timed with date +%s%N"
status=0

# --- 1. warm start against runc and unshare+chroot ---------------------------
command -v runc >/dev/null || die "runc is needed for the comparison (apt-get install runc)"
command -v podman >/dev/null || die "podman is needed for the comparison (apt-get install podman)"
# shellcheck disable=SC2086
podman $PODMAN_OPTS run --rm --network=none --ulimit nofile=1024:2048 --ulimit nproc=1024:2048 \
	--rootfs "$PROOTFS" /testapp exit 0 >"$TMP/podman.out" 2>&1 || die "podman run failed: $(cat "$TMP/podman.out")"
(cd "$S/bundle" && rm -f config.json && runc spec) || die "runc spec failed"
# testapp exit 0, no terminal; runc spec's namespaces already include a
# network namespace of its own (as --net=none) and a read-only root.
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's|^\(\s*\)"sh"$|\1"/testapp", "exit", "0"|' "$S/bundle/config.json"
grep -q '"/testapp", "exit", "0"' "$S/bundle/config.json" || die "could not edit the runc config"
settle_disk "$S" 300
alternate "acirun=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none $SMALL" \
	"runc=runc --root $S/runc-state run --bundle $S/bundle acirun-bench-start" \
	"unshare=unshare --mount --pid --fork --uts --ipc --net chroot $ROOTFS /testapp exit 0" \
	"podman=podman $PODMAN_OPTS run --rm --network=none --ulimit nofile=1024:2048 --ulimit nproc=1024:2048 --rootfs $PROOTFS /testapp exit 0"
A gc --grace-period=0s >/dev/null
T_ACI=$(median_ms acirun) T_RUNC=$(median_ms runc) T_UNSHARE=$(median_ms unshare) T_PODMAN=$(median_ms podman)
printf '%-44s %7s ms\n' "acirun run --net=none IMAGE-ID" "$T_ACI" "runc run (same rootfs, own netns)" "$T_RUNC" \
	"unshare -mpfuin chroot ROOTFS /testapp" "$T_UNSHARE"
printf '%-44s %7s ms  (acirun = %s x podman)\n' "podman run --rm --network=none --rootfs" "$T_PODMAN" "$(ratio "$T_ACI" "$T_PODMAN")"
figure "warm start, trivial app, --net=none (target <= 0.5x runc)" "acirun=acirun run --net=none" "runc=runc run" \
	"podman=podman run --rm --network=none" "unshare=unshare + chroot (the floor)"
R=$(ratio "$T_ACI" "$T_RUNC")
if awk -v r="$R" 'BEGIN { exit !(r <= 0.5) }'; then
	echo "PASS warm start: $T_ACI ms = $R x runc (target <= 0.5, aim 2 x the floor); $(ratio "$T_ACI" "$T_UNSHARE") x unshare+chroot"
else
	echo "FAIL warm start: $T_ACI ms = $R x runc (target <= 0.5, aim 2 x the floor); $(ratio "$T_ACI" "$T_UNSHARE") x unshare+chroot"
	status=1
fi

# --- 1b. --private-users beside the warm start ---------------------------------
# A user namespace per app launch, a leased ID range, an ID-mapped lower layer
# (issue 21's target: at most 10 % more than the warm start).
alternate "plain=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none $SMALL" \
	"userns=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none --private-users $SMALL"
A gc --grace-period=0s >/dev/null
figure "warm start with --private-users (target <= 1.10x)" "userns=acirun run --private-users" "plain=acirun run"
T_PLAIN=$(median_ms plain) T_USERNS=$(median_ms userns)
printf '%-44s %7s ms\n' "acirun run --net=none IMAGE-ID" "$T_PLAIN" "acirun run --net=none --private-users IMAGE-ID" "$T_USERNS"
R=$(ratio "$T_USERNS" "$T_PLAIN")
if awk -v r="$R" 'BEGIN { exit !(r <= 1.10) }'; then
	echo "PASS private users: $T_USERNS ms = $R x the warm start (target <= 1.10)"
else
	echo "FAIL private users: $T_USERNS ms = $R x the warm start (target <= 1.10)"
	status=1
fi

# --- 2. memory of the pod's PID 1 ---------------------------------------------
rm -f "$TMP/uuid"
# Started without a subshell, so that $SLEEPER is acirun, which becomes the
# pod's stage1 supervisor (exec).
"$BIN" --dir="$DATA" --run-dir="$TMP/run" run --net=none --uuid-file-save="$TMP/uuid" "$SMALL" --exec=/testapp -- sleep 30s >/dev/null 2>&1 &
SLEEPER=$!
i=0
while [ ! -s "$DATA/pods/$(cat "$TMP/uuid" 2>/dev/null)/ppid1" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
PPID1=$(cat "$DATA/pods/$(cat "$TMP/uuid")/ppid1" 2>/dev/null) || die "the sleeping pod did not start"
sleep 2 # let PID 1 settle into supervising
RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PPID1/status")
ANON=$(awk '/^RssAnon:/ { print $2 }' "/proc/$PPID1/status")
SUP=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SLEEPER/status")
echo "pod PID 1 ($(tr '\0' ' ' <"/proc/$PPID1/cmdline" | cut -d' ' -f1-3)): VmRSS $RSS KB (anonymous $ANON KB)"
echo "pod supervisor on the host ($(tr '\0' ' ' <"/proc/$SLEEPER/cmdline" | cut -d' ' -f1-3)): VmRSS $SUP KB"
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null || true
SLEEPER=
if [ "$RSS" -lt 4096 ]; then
	echo "PASS memory: pod PID 1 VmRSS $RSS KB < 4096 KB"
else
	echo "FAIL memory: pod PID 1 VmRSS $RSS KB (limit 4096 KB)"
	status=1
fi
A gc --grace-period=0s >/dev/null

# --- 3. start cost against image size ----------------------------------------
alternate "small=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none $SMALL" "big=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none $BIG"
A gc --grace-period=0s >/dev/null
T_SMALL=$(median_ms small) T_BIG=$(median_ms big)
figure "warm start of a 250 MB image (target 1 +- 0.2x)" "big=acirun run, 250 MB image" "small=acirun run, 2 MB image"
R=$(ratio "$T_BIG" "$T_SMALL")
printf '%-44s %7s ms\n' "acirun run, 2 MB image" "$T_SMALL" "acirun run, 250 MB image" "$T_BIG"
if awk -v r="$R" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'; then
	echo "PASS image size: 250 MB image starts in $R x the time of the 2 MB one (limit 1 +- 0.2)"
else
	echo "FAIL image size: 250 MB image starts in $R x the time of the 2 MB one (limit 1 +- 0.2)"
	status=1
fi
exit $status
