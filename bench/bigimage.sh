# bench/bigimage.sh — sourced by the benchmark scripts: the large gzip ACI
# they share. Needs BIN, BENCH_DIR, IMAGE and die() set by the caller. The
# image is built once with `BIN image build` from a copy of a large local tree
# (BENCH_TREE, default the Go toolchain: ~250 MB / ~17k files), named
# BIGIMAGE_NAME:1.0.0, and cached in BENCH_DIR; delete it there to rebuild.

BIGIMAGE_NAME=example.com/acirun-bench/tree

build_big_image() {
	[ -s "$IMAGE" ] && return 0
	TREE=${BENCH_TREE:-$(go env GOROOT 2>/dev/null || true)}
	[ -n "$TREE" ] && [ -d "$TREE" ] || die "no tree to pack: set BENCH_TREE or put go in PATH"
	LAYOUT=$BENCH_DIR/layout.$$
	rm -rf "$LAYOUT"
	mkdir -p "$LAYOUT"
	echo "building $IMAGE from a copy of $TREE (once) ..."
	# Hard links where the tree is on the same file system: removing the
	# layout afterwards then frees no file inodes, which on ext4 without a
	# journal would slow the next benchmark's file creation for minutes
	# (see import.sh).
	cp -al "$TREE" "$LAYOUT/rootfs" 2>/dev/null || { rm -rf "$LAYOUT/rootfs"; cp -a "$TREE" "$LAYOUT/rootfs"; }
	cat >"$LAYOUT/manifest" <<-JSON
	{
	  "acKind": "ImageManifest",
	  "acVersion": "0.8.11",
	  "name": "$BIGIMAGE_NAME",
	  "labels": [{"name": "version", "value": "1.0.0"}]
	}
	JSON
	"$BIN" image build --overwrite "$LAYOUT" "$IMAGE.tmp.$$" || die "image build failed"
	mv "$IMAGE.tmp.$$" "$IMAGE"
	rm -rf "$LAYOUT"
}
