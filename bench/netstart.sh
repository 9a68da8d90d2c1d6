#!/bin/sh
# bench/netstart.sh BIN — what does the default network cost a pod's start,
# and does the start stay as fast with 200 pods on the network?
#
# Targets (issue 19), measured side by side in one run:
#   1. Start cost of the default network over --net=none: at most 5 ms
#      (systemd-nspawn's --network-veth adds about 1 ms). `BIN run
#      --net=default IMAGE-ID` and `BIN run --net=none IMAGE-ID` of a trivial
#      app (testapp exit 0, warm store) run alternately (bench/lib.sh's
#      timer); the medians, their ratio and their difference are printed.
#   2. 200 pods on the default network at once: each reachable by the host at
#      its IPv4 and its IPv6 address, and the start time of the 200th pod
#      within 20 % of the first's. The pods are started one after the other,
#      each once the one before has started its app; a pod's start time is
#      read from its own ACIRUN_TRACE lines (`apps started`, counted from
#      acirun's main), so that the waiting between pods is not in it. The
#      medians of the first 10 and of the last 10 are compared (one start
#      is one sample on a shared machine); the 1st and the 200th are printed.
#
# The script runs itself in a network namespace of its own (unshare -n):
# nothing of the host's network is touched, and what the pods make (links,
# routes, nftables rules, leases under a temporary run directory) goes with
# it. The run directory is a tmpfs, as /run is wherever systemd is PID 1
# (acirun's default run directory is /run/acirun), mounted in a mount
# namespace of the script's own (unshare -m): on these machines /run and
# /tmp are on the root file system, ext4 without a journal, where creating
# a file costs up to a millisecond for minutes after files were deleted,
# and each start creates its two lease files there: with the run directory
# on that disk, the 200th pod's two creations took 0.9-1.0 ms each against
# under 0.1 ms for the first pod's (strace -T), most of the growth the
# target is about, and none of acirun's making. Needs root, go (to build tests/testapp) and unshare (util-linux); 200
# pods take about 5 GB of memory.
#
# Before timing, it waits (up to 5 minutes, saying so) until creating a file
# in its directory costs what it does at rest (bench/lib.sh await_settled):
# a start creates some 30 files, which after a large deletion on ext4 without
# a journal cost 35-900 us each instead of 25, and its peers create fewer.
#
# Environment: BENCH_DIR (default /var/tmp/acirun-bench; the image is built
# in BENCH_DIR/net and kept), RUNS (default 30), PODS (default 200). Exit
# status 0 on PASS, 1 on FAIL, 2 on usage errors, 254 if the benchmark itself
# could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (namespaces, links, mounts)"
command -v go >/dev/null || die "go is needed to build tests/testapp"
if [ -z "${ACIRUN_BENCH_NETNS:-}" ]; then
	exec env ACIRUN_BENCH_NETNS=1 unshare --net --mount "$0" "$BIN"
fi
ip link set lo up 2>/dev/null || die "cannot bring up loopback in the bench's network namespace (iproute2 needed)"

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-30}
PODS=${PODS:-200}
REPO=$(cd "$(dirname "$0")/.." && pwd)
S=$BENCH_DIR/net
DATA=$S/data
mkdir -p "$S"
TMP=$(mktemp -d)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	"$BIN" --dir="$DATA" --run-dir="$TMP/run" gc --grace-period=0s >/dev/null 2>&1 || true
	umount "$TMP/run" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir "$TMP/run" && mount -t tmpfs -o mode=0755 acirun-bench-run "$TMP/run" ||
	die "cannot mount a tmpfs for the run directory at $TMP/run"
A() { "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" --system-config="$S/usr" "$@"; }

warn_if_loaded 2

# --- the image: testapp, which exits at once unless told to serve ------------
ARCH=$(go env GOARCH)
case $ARCH in arm64) ARCH=aarch64 ;; 386) ARCH=i386 ;; esac
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$S/testapp.new" ./tests/testapp) ||
	die "cannot build tests/testapp"
if ! cmp -s "$S/testapp.new" "$S/testapp"; then
	mv "$S/testapp.new" "$S/testapp"
	rm -f "$S/net.aci"
else
	rm -f "$S/testapp.new"
fi
if [ ! -s "$S/net.aci" ]; then
	rm -rf "$S/layout"
	mkdir -p "$S/layout/rootfs"
	cp "$S/testapp" "$S/layout/rootfs/testapp"
	cat >"$S/layout/manifest" <<-EOF
	{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/net",
	 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "$ARCH"}],
	 "app": {"exec": ["/testapp", "exit", "0"], "user": "0", "group": "0"}}
	EOF
	"$BIN" image build --overwrite "$S/layout" "$S/net.aci" >/dev/null || die "image build failed"
fi
IMG=$(A fetch --insecure-options=image --full "$S/net.aci" 2>/dev/null) || die "fetch net.aci failed"
status=0

# --- 1. start cost of the default network -------------------------------------
settle_disk "$S" 300
alternate "none=$BIN --dir=$DATA --run-dir=$TMP/run run --net=none $IMG" \
	"default=$BIN --dir=$DATA --run-dir=$TMP/run run --net=default $IMG"
A gc --grace-period=0s >/dev/null
T_NONE=$(median_ms none) T_DEF=$(median_ms default)
figure "start on the default network (target <= 5 ms more than --net=none)" "default=acirun run --net=default" "none=acirun run --net=none"
DIFF=$(awk -v a="$T_DEF" -v b="$T_NONE" 'BEGIN { printf "%.1f", a - b }')
printf '%-44s %7s ms\n' "acirun run --net=none IMAGE-ID" "$T_NONE" "acirun run --net=default IMAGE-ID" "$T_DEF"
if awk -v d="$DIFF" 'BEGIN { exit !(d <= 5) }'; then
	echo "PASS default network: +$DIFF ms over --net=none ($(ratio "$T_DEF" "$T_NONE") x; target <= 5 ms)"
else
	echo "FAIL default network: +$DIFF ms over --net=none ($(ratio "$T_DEF" "$T_NONE") x; target <= 5 ms)"
	status=1
fi

# --- 2. 200 pods at once --------------------------------------------------------
: >"$TMP/starts"
i=1
while [ "$i" -le "$PODS" ]; do
	ACIRUN_TRACE=1 "$BIN" --dir="$DATA" --run-dir="$TMP/run" run --uuid-file-save="$TMP/uuid.$i" "$IMG" \
		--exec=/testapp -- serve :8080 >"$TMP/out.$i" 2>"$TMP/err.$i" &
	PIDS="$PIDS $!"
	n=0
	until grep -q ': apps started: true' "$TMP/err.$i" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 600 ] || die "pod $i did not start in 30 s: $(cat "$TMP/err.$i")"
		sleep 0.05
	done
	awk '/: apps started: true/ { print $3; exit }' "$TMP/err.$i" >>"$TMP/starts"
	i=$((i + 1))
done
# Every pod, at both its addresses (a pod that has started its app may
# take a moment more to listen).
unreached=0
i=1
while [ "$i" -le "$PODS" ]; do
	dir=$DATA/pods/$(cat "$TMP/uuid.$i")
	ip4=$(sed -n 's/.*"ip":"\([^"]*\)".*/\1/p' "$dir/net.json")
	ip6=$(sed -n 's/.*"ip6":"\([^"]*\)".*/\1/p' "$dir/net.json")
	for url in "http://$ip4:8080/" "http://[$ip6]:8080/"; do
		n=0
		until "$S/testapp" get "$url" | grep -q 'status=200 body=hello from testapp'; do
			n=$((n + 1))
			if [ $n -ge 50 ]; then
				echo "pod $i: $url unreached"
				unreached=$((unreached + 1))
				break
			fi
			sleep 0.1
		done
	done
	i=$((i + 1))
done
ADDRS=$(cat "$DATA"/pods/*/net.json | sed -n 's/.*"ip":"\([^"]*\)".*"ip6":"\([^"]*\)".*/\1 \2/p' | tr ' ' '\n' | sort -u | wc -l)
FIRST=$(head -n1 "$TMP/starts") LAST=$(tail -n1 "$TMP/starts")
med() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f\n", m }'; }
M_FIRST=$(head -n10 "$TMP/starts" | med) M_LAST=$(tail -n10 "$TMP/starts" | med)
head -n10 "$TMP/starts" >"$TMP/starts.first"
tail -n10 "$TMP/starts" >"$TMP/starts.last"
record first10 "start of pods 1-10 (apps started)" ms "$TMP/starts.first"
record last10 "start of the last 10 of $PODS pods (apps started)" ms "$TMP/starts.last"
figure "start with $PODS pods on the network (target <= 1.2x the first)" "last10=the last 10 pods" "first10=the first 10 pods"
printf '%-44s %7s ms\n' "start of pod 1 (apps started)" "$FIRST" "start of pod $PODS" "$LAST" \
	"median start of pods 1-10" "$M_FIRST" "median start of pods $((PODS - 9))-$PODS" "$M_LAST"
echo "$PODS pods running, $ADDRS distinct addresses (want $((2 * PODS))), $unreached addresses unreached"
R=$(ratio "$M_LAST" "$M_FIRST")
if [ "$unreached" -eq 0 ] && [ "$ADDRS" -eq $((2 * PODS)) ] && awk -v r="$R" 'BEGIN { exit !(r <= 1.2) }'; then
	echo "PASS $PODS pods: every pod reached at both addresses; the last pods start in $R x the time of the first (limit 1.2)"
else
	echo "FAIL $PODS pods: $unreached addresses unreached, $ADDRS distinct; the last pods start in $R x the time of the first (limit 1.2)"
	status=1
fi
exit $status
