#!/bin/sh
# bench/validate.sh BIN — how fast does `BIN image validate` read a large gzip
# ACI, compared with `gzip -dc IMAGE > /dev/null` on the same file?
#
# Target (issue 2): at most 1.3x gzip's time, with a peak RSS under 64 MB.
#
# The image is built once with `BIN image build` from a copy of a large local
# tree (the Go toolchain, ~250 MB / ~17k files) and cached in $BENCH_DIR
# (default /var/tmp/acirun-bench); delete it there to rebuild. Both commands
# run $RUNS times (default 5), alternating, after one warm-up run each, and the
# medians are compared. Timing and peak RSS come from /usr/bin/time -f '%e %M'
# or, if that is missing (or BENCH_TIMER=go), from bench/measure, a tiny Go
# helper reading the child's ru_maxrss from wait4.
#
# Environment: BENCH_DIR, RUNS, BENCH_TREE (tree to pack, default
# `go env GOROOT`), BENCH_TIMER (time|go). Exit status 0 on PASS, 1 on FAIL,
# 2 on usage errors, 254 if the benchmark itself could not run.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BIN  (BIN is the acirun binary to benchmark)" >&2
	exit 2
fi
BIN=$1
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "$0: $BIN is not an executable" >&2; exit 2; }
BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=$BENCH_DIR/gotree.aci
MAX_RATIO=1.3
MAX_RSS_KB=$((64 * 1024))

die() { echo "$0: $*" >&2; exit 254; }

command -v gzip >/dev/null || die "gzip is needed for the comparison"
mkdir -p "$BENCH_DIR"

# --- the image -------------------------------------------------------------
. "$HERE/bigimage.sh"
build_big_image
SIZE=$(wc -c <"$IMAGE")
TARSIZE=$(gzip -dc "$IMAGE" | wc -c)
echo "image: $IMAGE, $((SIZE / 1048576)) MiB gzip, $((TARSIZE / 1048576)) MiB tar"

# The validator must accept the image, or timing it means nothing.
OUT=$("$BIN" image validate "$IMAGE") || die "image validate failed: $OUT"
case $OUT in *": ok sha512-"*) ;; *) die "unexpected validate output: $OUT" ;; esac
WANT=$(gzip -dc "$IMAGE" | sha512sum | cut -d' ' -f1)
case $OUT in *"sha512-$WANT"*) ;; *) die "ID mismatch: validate says '$OUT', gzip -dc | sha512sum says $WANT" ;; esac

# --- the timer -------------------------------------------------------------
TIMER=${BENCH_TIMER:-time}
if [ "$TIMER" = time ] && [ ! -x /usr/bin/time ]; then
	TIMER=go
fi
if [ "$TIMER" = go ]; then
	MEASURE=$BENCH_DIR/measure
	(cd "$HERE/measure" && go build -o "$MEASURE" .) || die "cannot build bench/measure (needs go)"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# measure NAME CMD... appends "SECONDS RSS_KB CPU_SECONDS" for one run to $TMP/NAME,
# with the command's stdout thrown away.
measure() {
	name=$1
	shift
	if [ "$TIMER" = go ]; then
		"$MEASURE" "$TMP/one" "$@" || die "$* failed"
	else
		/usr/bin/time -f '%e %M' -o "$TMP/one" "$@" >/dev/null || die "$* failed"
	fi
	cat "$TMP/one" >>"$TMP/$name"
}

# median FILE COLUMN
median() {
	sort -n -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {
		if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2 }'
}
best() { sort -n -k1,1 "$1" | head -n1 | cut -d' ' -f1; }
maxcol() { sort -n -k"$2","$2" "$1" | tail -n1 | cut -d' ' -f"$2"; }

LOAD=$(cut -d' ' -f1 /proc/loadavg)
CPUS=$(nproc)
if awk -v l="$LOAD" -v c="$CPUS" 'BEGIN { exit !(l > c) }'; then
	echo "warning: load average $LOAD on $CPUS CPUs: the figures below are unreliable" >&2
fi

echo "timer: $TIMER, $RUNS alternating runs after a warm-up"
measure warm gzip -dc "$IMAGE"
measure warm "$BIN" image validate "$IMAGE"
i=0
while [ $i -lt "$RUNS" ]; do
	measure gzip gzip -dc "$IMAGE"
	measure acirun "$BIN" image validate "$IMAGE"
	i=$((i + 1))
done

G=$(median "$TMP/gzip" 1)
A=$(median "$TMP/acirun" 1)
RSS=$(maxcol "$TMP/acirun" 2)
GRSS=$(maxcol "$TMP/gzip" 2)
RATIO=$(awk -v a="$A" -v g="$G" 'BEGIN { printf "%.3f", a / g }')
BRATIO=$(awk -v a="$(best "$TMP/acirun")" -v g="$(best "$TMP/gzip")" 'BEGIN { printf "%.3f", a / g }')

printf 'gzip -dc IMAGE >/dev/null   median %6.3f s  best %6.3f s  peak RSS %6d KB\n' "$G" "$(best "$TMP/gzip")" "$GRSS"
printf 'acirun image validate IMAGE median %6.3f s  best %6.3f s  peak RSS %6d KB\n' "$A" "$(best "$TMP/acirun")" "$RSS"
echo "ratio (medians) $RATIO, ratio (bests) $BRATIO; limits: ratio <= $MAX_RATIO, RSS < $MAX_RSS_KB KB"

status=0
if awk -v r="$RATIO" -v m="$MAX_RATIO" 'BEGIN { exit !(r <= m) }'; then
	echo "PASS time: $RATIO x gzip -dc"
else
	echo "FAIL time: $RATIO x gzip -dc (limit $MAX_RATIO)"
	status=1
fi
if [ "$RSS" -lt "$MAX_RSS_KB" ]; then
	echo "PASS memory: $RSS KB peak RSS"
else
	echo "FAIL memory: $RSS KB peak RSS (limit $MAX_RSS_KB KB)"
	status=1
fi
exit $status
