#!/bin/sh
# bench/validate.sh BIN — how fast does `BIN image validate` read a large gzip
# ACI, compared with `gzip -dc IMAGE > /dev/null` on the same file?
#
# Target (issue 2): at most 1.3x gzip's time, with a peak RSS under 64 MB.
#
# The image is built once with `BIN image build` from a copy of a large local
# tree (the Go toolchain, ~250 MB / ~17k files) and cached in $BENCH_DIR
# (default /var/tmp/acirun-bench); delete it there to rebuild. Both commands
# run $RUNS times (default 5) in rounds, each round in a shuffled order
# (shuf), after one warm-up run each, and the medians are compared. Timing and peak RSS come from /usr/bin/time -f '%e %M'
# or, if that is missing (or BENCH_TIMER=go), from bench/measure, a tiny Go
# helper reading the child's ru_maxrss from wait4.
#
# Environment: BENCH_DIR, RUNS, BENCH_TREE (tree to pack, default
# `go env GOROOT`), BENCH_TIMER (time|go). Exit status 0 on PASS, 1 on FAIL,
# 2 on usage errors, 254 if the benchmark itself could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=$BENCH_DIR/gotree.aci
MAX_RATIO=1.3
MAX_RSS_KB=$((64 * 1024))

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

warn_if_loaded 1

echo "timer: $TIMER, $RUNS rounds after a warm-up, each round in a shuffled order"
measure warm gzip -dc "$IMAGE"
measure warm "$BIN" image validate "$IMAGE"
i=0
while [ $i -lt "$RUNS" ]; do
	for c in $(shuffled gzip acirun); do
		case $c in
		gzip) measure gzip gzip -dc "$IMAGE" ;;
		acirun) measure acirun "$BIN" image validate "$IMAGE" ;;
		esac
	done
	i=$((i + 1))
done
record gzip "gzip -dc IMAGE" s "$TMP/gzip" 1
record acirun "acirun image validate IMAGE" s "$TMP/acirun" 1
record acirun-rss "peak RSS of acirun image validate" KB "$TMP/acirun" 2
figure "image validate of a $((SIZE / 1048576)) MiB gzip image (target <= ${MAX_RATIO}x gzip -dc)" "acirun=acirun image validate" "gzip=gzip -dc"

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
verdict_gzip "$RATIO" "$MAX_RATIO" "$RSS" "$MAX_RSS_KB"
exit $status
