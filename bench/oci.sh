#!/bin/sh
# bench/oci.sh BIN — OCI images from a registry (issue 20): how fast does
# acirun pull and unpack a large multi-layer image, with how much memory,
# and does a pod's start cost grow with its image's layer count?
#
# Targets, each measured side by side with its peer in one run:
#   1. Pull + unpack of a multi-layer image (a copy of the Go toolchain,
#      ~250 MB / ~15k files, in 9 layers) from Debian's docker-registry on
#      127.0.0.1: `BIN fetch docker://127.0.0.1:PORT/tree@sha256:…` at most
#      0.8x the time of Debian's `podman pull` of the same image (aiming at
#      0.5x), with a peak RSS under 96 MB.
#   2. Warm start (`BIN run --net=none IMAGE-ID`) of a 20-layer image within
#      20 % of a 1-layer image holding the same files.
#
# The images are OCI layouts built once with umoci in $BENCH_DIR/oci
# (default /var/tmp/acirun-bench/oci, not on overlayfs) and kept; each run
# starts a registry (plain http on 127.0.0.1, hence
# --insecure-options=http; the references are pinned by digest, so the
# content is verified) whose storage is kept there too, and pushes them
# with skopeo. Every pull goes into a store of its own, acirun's (--dir)
# or podman's (--root, overlay driver, as podman is used), in $STORES,
# alternating acirun and podman in a shuffled order each round, $RUNS
# times (default 5) after a warm-up each; the stores are evicted from the page cache between runs
# (bench/evict) and deleted at the end (see bench/import.sh for why not
# between runs: ext4 without a journal skips recently freed inodes).
# Warm starts are timed by alternate (bench/lib.sh).
#
# Needs root, go, docker-registry, skopeo, umoci, podman and python3
# (scripts/setup bench installs them). Environment: BENCH_DIR, RUNS,
# BENCH_TREE (the tree to pack, default `go env GOROOT`). Exit status 0 on
# PASS, 1 on FAIL, 2 on usage errors, 254 if the benchmark could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (pods, podman's storage)"
for c in go docker-registry skopeo umoci podman python3 tar; do
	command -v $c >/dev/null || die "$c is needed (scripts/setup bench installs it)"
done

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
O=$BENCH_DIR/oci
MAX_RATIO=0.8
MAX_RSS_KB=$((96 * 1024))
mkdir -p "$O"
TMP=$(mktemp -d)
STORES=$O/stores.$$
REGISTRY=
cleanup() {
	# (|| true: under set -e dash leaves the trap at a failing wait)
	if [ -n "$REGISTRY" ]; then
		kill "$REGISTRY" 2>/dev/null || true
		wait "$REGISTRY" 2>/dev/null || true
	fi
	"$BIN" --dir="$O/start-data" --run-dir="$TMP/run" gc --grace-period=0s >/dev/null 2>&1 || true
	# podman's stores hold overlay layers of its own making: podman
	# removes them (with the run root each was made with).
	for r in "$STORES"/podman*; do
		[ -d "$r" ] || continue
		podman --root="$r" --runroot="$TMP/prun${r##*/podman}" --storage-driver=overlay --events-backend=none \
			system reset --force >/dev/null 2>&1 || true
	done
	rm -rf "$TMP" "$STORES"
}
trap cleanup EXIT
trap 'exit 254' INT TERM

MEASURE=$O/measure
EVICT=$O/evict
(cd "$HERE/measure" && go build -o "$MEASURE" .) || die "cannot build bench/measure"
(cd "$HERE/evict" && go build -o "$EVICT" .) || die "cannot build bench/evict"

# umoci LAYOUT:TAG from the layers (uncompressed tars) given, with config
# flags after a lone "--"; umoci gzips each layer.
build_layout() {
	layout=$1
	shift
	rm -rf "$layout.tmp"
	umoci init --layout "$layout.tmp" && umoci new --image "$layout.tmp:1" || die "umoci init/new $layout failed"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		umoci raw add-layer --image "$layout.tmp:1" "$1" || die "umoci raw add-layer $1 failed"
		shift
	done
	[ $# -gt 0 ] && shift
	if [ $# -gt 0 ]; then
		umoci config --image "$layout.tmp:1" "$@" || die "umoci config failed"
	fi
	rm -rf "$layout"
	mv "$layout.tmp" "$layout"
}

# --- the images ----------------------------------------------------------------
# tree: the Go toolchain's top-level entries and src/*, dealt round-robin
# into 8 layers after one holding the src directory itself.
if [ ! -s "$O/tree/index.json" ]; then
	TREE=${BENCH_TREE:-$(go env GOROOT 2>/dev/null || true)}
	[ -n "$TREE" ] && [ -d "$TREE" ] || die "no tree to pack: set BENCH_TREE or put go in PATH"
	echo "building the OCI layout $O/tree from $TREE in 9 layers (once) ..."
	mkdir -p "$TMP/lists"
	(cd "$TREE" && { ls -A | grep -vx src; ls -d src/*; }) | awk -v d="$TMP/lists" '{ print > (d "/" (NR % 8)) }'
	tar -C "$TREE" --no-recursion -cf "$TMP/layer-src.tar" src || die "tar failed"
	set -- "$TMP/layer-src.tar"
	for k in 0 1 2 3 4 5 6 7; do
		tar -C "$TREE" -cf "$TMP/layer$k.tar" -T "$TMP/lists/$k" || die "tar failed"
		set -- "$@" "$TMP/layer$k.tar"
	done
	build_layout "$O/tree" "$@"
	rm -f "$TMP"/layer*.tar
fi
# small and layered: testapp exit 0, with 19 small files beside it; small
# in one layer, layered in 20 (testapp, then a file a layer).
ARCH=$(go env GOARCH)
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$O/testapp.new" ./tests/testapp) ||
	die "cannot build tests/testapp"
if ! cmp -s "$O/testapp.new" "$O/testapp" || [ ! -s "$O/small/index.json" ] || [ ! -s "$O/layered/index.json" ]; then
	mv "$O/testapp.new" "$O/testapp"
	rm -rf "$TMP/root"
	mkdir -p "$TMP/root/etc"
	cp "$O/testapp" "$TMP/root/testapp"
	tar -C "$TMP/root" --no-recursion -cf "$TMP/app.tar" testapp etc || die "tar failed"
	set --
	i=1
	while [ $i -le 19 ]; do
		echo "file $i" >"$TMP/root/etc/file$i"
		tar -C "$TMP/root" -cf "$TMP/file$i.tar" "etc/file$i" || die "tar failed"
		set -- "$@" "$TMP/file$i.tar"
		i=$((i + 1))
	done
	tar -C "$TMP/root" -cf "$TMP/all.tar" . || die "tar failed"
	CONFIG="-- --config.entrypoint=/testapp --config.cmd=exit --config.cmd=0 --architecture=$ARCH"
	# shellcheck disable=SC2086
	build_layout "$O/layered" "$TMP/app.tar" "$@" $CONFIG
	# shellcheck disable=SC2086
	build_layout "$O/small" "$TMP/all.tar" $CONFIG
	rm -rf "$TMP/root" "$TMP"/*.tar
else
	rm -f "$O/testapp.new"
fi

# --- the registry ------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $O/registry
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
REGISTRY=$!
i=0
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/')" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "docker-registry did not answer on 127.0.0.1:$PORT: $(cat "$TMP/registry.log")"
	sleep 0.1
done
push() { # push LAYOUT NAME: the digest of the manifest pushed
	HOME=$TMP skopeo copy --quiet --dest-tls-verify=false --digestfile="$TMP/digest" "oci:$1:1" \
		"docker://127.0.0.1:$PORT/$2:1" || die "skopeo copy $1 failed"
	cat "$TMP/digest"
}
TREE_REF=127.0.0.1:$PORT/tree@$(push "$O/tree" tree)
SMALL_REF=127.0.0.1:$PORT/small@$(push "$O/small" small)
LAYERED_REF=127.0.0.1:$PORT/layered@$(push "$O/layered" layered)
SIZE=$(du -sm "$O/tree/blobs" | cut -f1)
echo "image: $TREE_REF, 9 layers, $SIZE MiB compressed; registry: docker-registry on 127.0.0.1:$PORT (plain http)"

warn_if_loaded 1
mkdir -p "$STORES"
status=0

# --- 1. pull + unpack against podman pull --------------------------------------
# measure (lib.sh) appends each run to $TMP/NAME.runs here.
acirun_pull() { # acirun_pull NAME RUN
	measure "$1.runs" "$BIN" --dir="$STORES/acirun$2" --local-config="$TMP/etc" --system-config="$TMP/usr" \
		fetch --quiet --insecure-options=http "docker://$TREE_REF"
	"$EVICT" "$STORES/acirun$2" || die "evict failed"
}
podman_pull() { # podman_pull NAME RUN
	measure "$1.runs" podman --root="$STORES/podman$2" --runroot="$TMP/prun$2" --storage-driver=overlay \
		--events-backend=none --cgroup-manager=cgroupfs pull --quiet --tls-verify=false "$TREE_REF"
	"$EVICT" "$STORES/podman$2" || die "evict failed"
}
# Both must work, or timing them means nothing.
ID=$("$BIN" --dir="$STORES/check" --local-config="$TMP/etc" --system-config="$TMP/usr" \
	fetch --full --insecure-options=http "docker://$TREE_REF" 2>"$TMP/err") || die "acirun fetch failed: $(cat "$TMP/err")"
[ -n "$ID" ] || die "acirun fetch printed no image ID"
echo "timer: bench/measure, $RUNS alternating runs after a warm-up each; a store of its own for every pull in $STORES"
acirun_pull warm w
podman_pull warm w
i=0
while [ $i -lt "$RUNS" ]; do
	for c in $(shuffled acirun podman); do
		${c}_pull $c $i
	done
	i=$((i + 1))
done
record acirun "acirun fetch docker://…@sha256 (9 layers, 250 MB)" s "$TMP/acirun.runs" 1
record podman "podman pull (overlay)" s "$TMP/podman.runs" 1
record acirun-rss "peak RSS of acirun fetch docker://" KB "$TMP/acirun.runs" 2
figure "pull + unpack of a 9-layer OCI image from a local registry (target <= ${MAX_RATIO}x podman pull)" "acirun=acirun fetch docker://" "podman=podman pull"
podman --root="$STORES/podman0" --runroot="$TMP/prun0" --storage-driver=overlay --events-backend=none \
	images --digests | grep -q "${TREE_REF#*@}" || die "podman's store lacks the image it pulled"
TA=$(median "$TMP/acirun.runs" 1)
TP=$(median "$TMP/podman.runs" 1)
RSS=$(maxcol "$TMP/acirun.runs" 2)
PRSS=$(maxcol "$TMP/podman.runs" 2)
R=$(awk -v a="$TA" -v p="$TP" 'BEGIN { printf "%.3f", a / p }')
printf 'acirun fetch docker://…@sha256   median %6.3f s  best %6.3f s  peak RSS %6d KB  CPU %6.3f s\n' "$TA" "$(best "$TMP/acirun.runs")" "$RSS" "$(median "$TMP/acirun.runs" 3)"
printf 'podman pull (overlay)           median %6.3f s  best %6.3f s  peak RSS %6d KB  CPU %6.3f s\n' "$TP" "$(best "$TMP/podman.runs")" "$PRSS" "$(median "$TMP/podman.runs" 3)"
echo "runs (s): acirun $(cut -d' ' -f1 "$TMP/acirun.runs" | tr '\n' ' ')| podman $(cut -d' ' -f1 "$TMP/podman.runs" | tr '\n' ' ')"
if awk -v r="$R" -v m="$MAX_RATIO" 'BEGIN { exit !(r <= m) }'; then
	echo "PASS pull: $R x podman pull (target <= $MAX_RATIO, aim 0.5)"
else
	echo "FAIL pull: $R x podman pull (target <= $MAX_RATIO, aim 0.5)"
	status=1
fi
if [ "$RSS" -lt "$MAX_RSS_KB" ]; then
	echo "PASS memory: acirun fetch peak RSS $RSS KB < $MAX_RSS_KB KB"
else
	echo "FAIL memory: acirun fetch peak RSS $RSS KB (limit $MAX_RSS_KB KB)"
	status=1
fi

# --- 2. warm start: 20 layers against 1 -----------------------------------------
D=$O/start-data
AD() { "$BIN" --dir="$D" --run-dir="$TMP/run" --local-config="$TMP/etc" --system-config="$TMP/usr" "$@"; }
SMALL=$(AD fetch --full --insecure-options=http "docker://$SMALL_REF" 2>"$TMP/err") || die "fetch $SMALL_REF failed: $(cat "$TMP/err")"
LAYERED=$(AD fetch --full --insecure-options=http "docker://$LAYERED_REF" 2>"$TMP/err") || die "fetch $LAYERED_REF failed: $(cat "$TMP/err")"
alternate "one=$BIN --dir=$D --run-dir=$TMP/run run --net=none $SMALL" "twenty=$BIN --dir=$D --run-dir=$TMP/run run --net=none $LAYERED"
AD gc --grace-period=0s >/dev/null
T1=$(median_ms one) T20=$(median_ms twenty)
figure "warm start of a 20-layer OCI image (target 1 +- 0.2x)" "twenty=acirun run, 20 layers" "one=acirun run, 1 layer"
R=$(ratio "$T20" "$T1")
printf '%-44s %7s ms\n' "acirun run, 1-layer image" "$T1" "acirun run, 20-layer image" "$T20"
if awk -v r="$R" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'; then
	echo "PASS layers: a 20-layer image starts in $R x the time of a 1-layer one (limit 1 +- 0.2)"
else
	echo "FAIL layers: a 20-layer image starts in $R x the time of a 1-layer one (limit 1 +- 0.2)"
	status=1
fi
exit $status
