#!/bin/sh
# bench/scale.sh BIN — does acirun stay quick with 1,000 pods and 1,000
# images in its store?
#
# Targets (issue 22):
#   1. `list`, `list --format=json` and `status UUID` (one pod among 1,000)
#      in under 100 ms (the median wall time of RUNS runs, default 10; the
#      CPU time, user+sys, is printed beside it).
#   2. `gc` of 1,000 pods, `image gc` of 1,000 images and `image rm` of
#      1,000 images in under a second of acirun's own CPU time (user+sys
#      from wait4's rusage, /usr/bin/time), each timed once (they remove
#      what they time; making it again is what costs).
#
# The pods are made by the real commands: $PODS (default 1,000) pods of a
# trivial image (tests/testapp exit 0), $EXITED of them (default 100)
# through `BIN run --net=none` (so they have a pid, an exit record and a
# network record like pods that ran), the rest through `BIN prepare
# --net=none`, four at a time. gc removes them all: --grace-period=0s for
# the exited ones, --expire-prepared=0s for the prepared ones. The images
# are $IMAGES (default 1,000) distinct small ACIs (a manifest and one small
# file each), plain tar archives made with tar once and kept in
# $BENCH_DIR/scale/acis, imported with `BIN fetch` a hundred at a time.
# Each run starts from an empty data directory, $BENCH_DIR/scale/data
# (default BENCH_DIR /var/tmp/acirun-bench), deleted at the end.
#
# Needs root (pods), go (to build tests/testapp), tar and /usr/bin/time.
# Environment: BENCH_DIR, RUNS, PODS, EXITED, IMAGES. Exit status 0 on
# PASS, 1 on FAIL, 2 on usage errors, 254 if the benchmark itself could
# not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (pods: namespaces, mounts)"
for c in go tar xargs /usr/bin/time; do
	command -v $c >/dev/null || die "$c is needed"
done

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-10}
PODS=${PODS:-1000}
EXITED=${EXITED:-100}
IMAGES=${IMAGES:-1000}
MAX_LIST=0.100
MAX_GC_CPU=1.0
REPO=$(cd "$(dirname "$0")/.." && pwd)
S=$BENCH_DIR/scale
DATA=$S/data
TMP=$(mktemp -d)
cleanup() {
	rm -rf "$DATA" "$TMP"
}
trap cleanup EXIT
trap 'exit 254' INT TERM
rm -rf "$DATA"
mkdir -p "$S/acis" "$DATA"
A() { "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" --system-config="$S/usr" "$@"; }

warn_if_loaded 2

ARCH=$(go env GOARCH)
case $ARCH in arm64) ARCH=aarch64 ;; 386) ARCH=i386 ;; esac

# --- the images --------------------------------------------------------------
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$TMP/testapp" ./tests/testapp) ||
	die "cannot build tests/testapp"
mkdir -p "$TMP/app/rootfs"
mv "$TMP/testapp" "$TMP/app/rootfs/testapp"
cat >"$TMP/app/manifest" <<-EOM
{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/scale",
 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "$ARCH"}],
 "app": {"exec": ["/testapp", "exit", "0"], "user": "0", "group": "0"}}
EOM
"$BIN" image build --overwrite "$TMP/app" "$TMP/app.aci" >/dev/null || die "image build failed"
APP=$(A fetch --insecure-options=image --full "$TMP/app.aci" 2>/dev/null) || die "fetch of the pods' image failed"

# The small images: made once (tar, one a file), kept.
i=1
mkdir -p "$TMP/img/rootfs"
while [ $i -le "$IMAGES" ]; do
	f=$S/acis/scale-$i.aci
	if [ ! -s "$f" ]; then
		echo "image $i of the scale bench" >"$TMP/img/rootfs/file"
		printf '{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/scale-%d", "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "%s"}]}\n' \
			"$i" "$ARCH" >"$TMP/img/manifest"
		tar -C "$TMP/img" -cf "$f.tmp" manifest rootfs || die "tar of image $i failed"
		mv "$f.tmp" "$f"
	fi
	i=$((i + 1))
done
fetch_images() {
	i=1
	while [ $i -le "$IMAGES" ]; do echo "$S/acis/scale-$i.aci"; i=$((i + 1)); done |
		xargs -n 100 "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" --system-config="$S/usr" \
			fetch --insecure-options=image --full 2>/dev/null >"$TMP/ids" || die "fetch of the small images failed"
	[ "$(sort -u "$TMP/ids" | wc -l)" -eq "$IMAGES" ] || die "fetch gave $(sort -u "$TMP/ids" | wc -l) image IDs, not $IMAGES"
}

# --- the pods ----------------------------------------------------------------
t0=$(date +%s)
seq $((PODS - EXITED)) | xargs -P 4 -I{} "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" \
	--system-config="$S/usr" prepare --net=none "$APP" >/dev/null 2>"$TMP/prepare.err" ||
	die "prepare failed: $(head -3 "$TMP/prepare.err")"
seq "$EXITED" | xargs -P 4 -I{} "$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" \
	--system-config="$S/usr" run --net=none "$APP" >/dev/null 2>"$TMP/run.err" ||
	die "run failed: $(head -3 "$TMP/run.err")"
t1=$(date +%s)
echo "made $PODS pods ($EXITED run and exited, the rest prepared) in $((t1 - t0)) s"
A list --no-legend >"$TMP/list" || die "list failed"
[ "$(wc -l <"$TMP/list")" -eq "$PODS" ] || die "list shows $(wc -l <"$TMP/list") pods, not $PODS"
[ "$(grep -c ' exited ' "$TMP/list")" -eq "$EXITED" ] || die "list shows $(grep -c ' exited ' "$TMP/list") exited pods, not $EXITED"
# The pod for status: one in the middle of the list.
UUID=$(A list --no-legend --full | sed -n "$((PODS / 2))p" | cut -d' ' -f1)
[ -n "$UUID" ] || die "no pod UUID in list --full"

# timed NAME CMD...: runs CMD with /usr/bin/time, appends "WALL USER+SYS"
# in seconds to $TMP/NAME.t; its output goes to $TMP/NAME.out.
timed() {
	name=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
		die "$* failed: $(head -3 "$TMP/$name.err")"
	awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$TMP/time" >>"$TMP/$name.t"
}

status=0
# verdict NAME WHAT COLUMN LIMIT UNIT-SCALE: PASS or FAIL of the median of
# column COLUMN (1 wall, 2 CPU) of NAME's runs against LIMIT seconds.
verdict() {
	m=$(median "$TMP/$1.t" "$3")
	w=$(median "$TMP/$1.t" 1)
	c=$(median "$TMP/$1.t" 2)
	line=$(printf '%s: %.0f ms wall, %.0f ms CPU (user+sys), %s run(s)' "$2" "$(awk -v v="$w" 'BEGIN { print v * 1000 }')" \
		"$(awk -v v="$c" 'BEGIN { print v * 1000 }')" "$(wc -l <"$TMP/$1.t")")
	if awk -v m="$m" -v l="$4" 'BEGIN { exit !(m < l) }'; then
		echo "PASS $line"
	else
		echo "FAIL $line (limit $(awk -v l="$4" 'BEGIN { print l * 1000 }') ms $([ "$3" = 1 ] && echo wall || echo CPU))"
		status=1
	fi
	record "$1-wall" "$2 (wall)" s "$TMP/$1.t" 1
	record "$1-cpu" "$2 (user+sys)" s "$TMP/$1.t" 2
}

# --- 1. list and status, alternated --------------------------------------------
n=0
while [ $n -lt $((RUNS + 2)) ]; do
	for k in $(shuffled list json status); do
		case $k in
		list) timed list "$BIN" --dir="$DATA" --run-dir="$TMP/run" list ;;
		json) timed json "$BIN" --dir="$DATA" --run-dir="$TMP/run" list --format=json ;;
		status) timed status "$BIN" --dir="$DATA" --run-dir="$TMP/run" status "$UUID" ;;
		esac
		# The first two rounds warm the page cache and are not counted.
		[ $n -lt 2 ] && : >"$TMP/$k.t"
	done
	n=$((n + 1))
done
grep -q "^uuid=$UUID" "$TMP/status.out" || die "status printed no uuid=$UUID"
verdict list "list of $PODS pods" 1 $MAX_LIST
verdict json "list --format=json of $PODS pods" 1 $MAX_LIST
verdict status "status UUID among $PODS pods" 1 $MAX_LIST

# --- 2. gc of the pods, image gc and image rm of the images --------------------
timed gc "$BIN" --dir="$DATA" --run-dir="$TMP/run" gc --grace-period=0s --expire-prepared=0s
[ "$(grep -c '^removed ' "$TMP/gc.out")" -eq "$PODS" ] || die "gc removed $(grep -c '^removed ' "$TMP/gc.out") pods, not $PODS"
verdict gc "gc of $PODS pods" 2 $MAX_GC_CPU

t0=$(date +%s)
fetch_images
t1=$(date +%s)
echo "imported $IMAGES small images in $((t1 - t0)) s"
timed imagegc "$BIN" --dir="$DATA" --run-dir="$TMP/run" image gc --grace-period=0s
# (and the pods' image, which no pod uses any more)
[ "$(grep -c '^removed ' "$TMP/imagegc.out")" -eq $((IMAGES + 1)) ] ||
	die "image gc removed $(grep -c '^removed ' "$TMP/imagegc.out") images, not $((IMAGES + 1))"
verdict imagegc "image gc of $IMAGES images" 2 $MAX_GC_CPU

fetch_images
# shellcheck disable=SC2046 # one argument an image ID
timed imagerm "$BIN" --dir="$DATA" --run-dir="$TMP/run" image rm $(cat "$TMP/ids")
[ "$(grep -c '^removed ' "$TMP/imagerm.out")" -eq "$IMAGES" ] ||
	die "image rm removed $(grep -c '^removed ' "$TMP/imagerm.out") images, not $IMAGES"
verdict imagerm "image rm of $IMAGES images" 2 $MAX_GC_CPU
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
