# bench/bigimage.sh — sourced by the benchmark scripts: the large ACIs they
# share. Needs BIN, BENCH_DIR, IMAGE and die() set by the caller. The images
# are made once from a copy of a large local tree (BENCH_TREE, default the
# Go toolchain: ~250 MB / ~17k files), named BIGIMAGE_NAME:1.0.0, and cached
# in BENCH_DIR; delete them there to rebuild.

BIGIMAGE_NAME=example.com/acirun-bench/tree

# big_layout DIR: an image layout of the tree in DIR (manifest, rootfs).
big_layout() {
	TREE=${BENCH_TREE:-$(go env GOROOT 2>/dev/null || true)}
	[ -n "$TREE" ] && [ -d "$TREE" ] || die "no tree to pack: set BENCH_TREE or put go in PATH"
	rm -rf "$1"
	mkdir -p "$1"
	# Hard links where the tree is on the same file system: removing the
	# layout afterwards then frees no file inodes, which on ext4 without a
	# journal would slow the next benchmark's file creation for minutes
	# (see import.sh).
	cp -al "$TREE" "$1/rootfs" 2>/dev/null || { rm -rf "$1/rootfs"; cp -a "$TREE" "$1/rootfs"; }
	cat >"$1/manifest" <<-JSON
	{
	  "acKind": "ImageManifest",
	  "acVersion": "0.8.11",
	  "name": "$BIGIMAGE_NAME",
	  "labels": [{"name": "version", "value": "1.0.0"}]
	}
	JSON
}

# build_big_image: IMAGE, made by `BIN image build` (gzip).
build_big_image() {
	[ -s "$IMAGE" ] && return 0
	LAYOUT=$BENCH_DIR/layout.$$
	echo "building $IMAGE from a copy of the tree (once) ..."
	big_layout "$LAYOUT"
	"$BIN" image build --overwrite "$LAYOUT" "$IMAGE.tmp.$$" || die "image build failed"
	mv "$IMAGE.tmp.$$" "$IMAGE"
	rm -rf "$LAYOUT"
}

# build_tar_images: the same layout packed by GNU tar as users make ACIs by
# hand, `tar -czf`, `tar -cjf` and `tar -cJf`, into $BENCH_DIR/gotree-tar.gz.aci,
# gotree-tar.bz2.aci and gotree-tar.xz.aci; each image's ID (the sha512 of
# its tar) is kept beside it in FILE.id, since decompressing a 250 MB bzip2
# file for it takes a while. (xz packs with XZ_OPT=-T0, every CPU: several
# minutes less, the same format.)
build_tar_images() {
	for z in gz:z:gzip bz2:j:bzip2 xz:J:xz; do
		ext=${z%%:*} flag=${z#*:} flag=${flag%%:*} tool=${z##*:}
		out=$BENCH_DIR/gotree-tar.$ext.aci
		[ -s "$out" ] && [ -s "$out.id" ] && continue
		LAYOUT=$BENCH_DIR/layout.$$
		[ -d "$LAYOUT/rootfs" ] || big_layout "$LAYOUT"
		echo "packing $out with GNU tar -c${flag}f (once) ..."
		XZ_OPT=-T0 tar -C "$LAYOUT" -c${flag}f "$out.tmp" manifest rootfs || die "tar -c${flag}f failed"
		id=sha512-$($tool -dc "$out.tmp" | sha512sum | cut -d' ' -f1) || die "$tool -dc $out.tmp failed"
		mv "$out.tmp" "$out"
		echo "$id" >"$out.id"
	done
	rm -rf "$BENCH_DIR/layout.$$"
}

LARGEIMAGE_NAME=example.com/acirun-bench/large

# build_large_image OUT: an ACI of a few large files (~250 MB uncompressed,
# issue 22's large-file case), made by `BIN image build` (gzip) into OUT
# once: 12 files of 10 MiB from /dev/urandom (incompressible: gzip stores
# them, so decompressing them costs gzip -dc almost nothing and the
# import's own work shows), 64 MiB of text (the tree's .go files, one after
# the other) and 64 MiB of machine code (the tree's executables), which
# compress 4:1 and 3:1. The layout is removed afterwards; its files are few,
# so their deletion does not slow the file system (see import.sh).
build_large_image() {
	[ -s "$1" ] && return 0
	TREE=${BENCH_TREE:-$(go env GOROOT 2>/dev/null || true)}
	[ -n "$TREE" ] && [ -d "$TREE" ] || die "no tree to take text and executables from: set BENCH_TREE or put go in PATH"
	LAYOUT=$BENCH_DIR/large-layout.$$
	echo "building $1 (a few large files, ~250 MB, once) ..."
	rm -rf "$LAYOUT"
	mkdir -p "$LAYOUT/rootfs/data"
	i=0
	while [ $i -lt 12 ]; do
		head -c 10485760 /dev/urandom >"$LAYOUT/rootfs/data/random$i" || die "cannot write $LAYOUT"
		i=$((i + 1))
	done
	# (|| true: head closing the pipe early makes find's cat fail)
	(find "$TREE" -name '*.go' -type f -print0 | sort -z | xargs -0 cat) 2>/dev/null | head -c 67108864 >"$LAYOUT/rootfs/data/text" || true
	(find "$TREE" -type f -perm -u+x -size +1M -print0 | sort -z | xargs -0 cat) 2>/dev/null | head -c 67108864 >"$LAYOUT/rootfs/data/code" || true
	for f in text code; do
		[ "$(wc -c <"$LAYOUT/rootfs/data/$f")" -eq 67108864 ] || die "$TREE holds less than 64 MiB for $LAYOUT/rootfs/data/$f"
	done
	cat >"$LAYOUT/manifest" <<-JSON
	{
	  "acKind": "ImageManifest",
	  "acVersion": "0.8.11",
	  "name": "$LARGEIMAGE_NAME",
	  "labels": [{"name": "version", "value": "1.0.0"}]
	}
	JSON
	"$BIN" image build --overwrite "$LAYOUT" "$1.tmp.$$" || die "image build of $LAYOUT failed"
	mv "$1.tmp.$$" "$1"
	rm -rf "$LAYOUT"
}
