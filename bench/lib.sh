# bench/lib.sh — sourced first by the benchmark scripts: what they all do the
# same way, so that every script takes its binary, gives up and reads its
# figures alike. Exit status of a script: 0 on PASS, 1 on FAIL, 2 on usage
# errors (bench_args), 254 if the benchmark itself could not run (die).

# bench_args BIN: the script's arguments, exactly one, the acirun binary to
# benchmark; sets BIN to its absolute path.
bench_args() {
	if [ $# -ne 1 ]; then
		echo "usage: $0 BIN  (BIN is the acirun binary to benchmark)" >&2
		exit 2
	fi
	BIN=$1
	case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
	[ -x "$BIN" ] || { echo "$0: $BIN is not an executable" >&2; exit 2; }
}

die() { echo "$0: $*" >&2; exit 254; }

# warn_if_loaded DIVISOR: a warning on stderr when the load average is above
# the CPUs there are divided by DIVISOR (the figures are then unreliable).
warn_if_loaded() {
	load=$(cut -d' ' -f1 /proc/loadavg)
	cpus=$(nproc)
	if awk -v l="$load" -v c="$cpus" -v d="$1" 'BEGIN { exit !(l > c / d) }'; then
		echo "warning: load average $load on $cpus CPUs: the figures below are unreliable" >&2
	fi
}

# ext4_nojournal DIR: is DIR on ext4 without a journal (no /proc/fs/jbd2 entry
# for its device)? There, inodes freed in the last minutes make creating
# files slow (see import.sh).
ext4_nojournal() {
	[ "$(findmnt -n -o FSTYPE -T "$1" 2>/dev/null)" = ext4 ] || return 1
	dev=$(findmnt -n -o SOURCE -T "$1" 2>/dev/null) || return 1
	! ls -d "/proc/fs/jbd2/${dev##*/}-"* >/dev/null 2>&1
}

# Files of runs, one line per run: "SECONDS RSS_KB CPU_SECONDS".
# median FILE COLUMN, best FILE (the least seconds), maxcol FILE COLUMN.
median() {
	sort -n -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {
		if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2 }'
}
best() { sort -n -k1,1 "$1" | head -n1 | cut -d' ' -f1; }
maxcol() { sort -n -k"$2","$2" "$1" | tail -n1 | cut -d' ' -f"$2"; }

# verdict_gzip RATIO MAX_RATIO RSS_KB MAX_RSS_KB: PASS or FAIL lines for a
# time against gzip -dc's and a peak RSS; sets status=1 on a FAIL.
verdict_gzip() {
	if awk -v r="$1" -v m="$2" 'BEGIN { exit !(r <= m) }'; then
		echo "PASS time: $1 x gzip -dc"
	else
		echo "FAIL time: $1 x gzip -dc (limit $2)"
		status=1
	fi
	if [ "$3" -lt "$4" ]; then
		echo "PASS memory: $3 KB peak RSS"
	else
		echo "FAIL memory: $3 KB peak RSS (limit $4 KB)"
		status=1
	fi
}

# The timer of quick commands (bench/start.sh, bench/oci.sh, ...). The
# machine is shared, and its load changes from second to second, so the
# commands compared are not timed one after the other (as hyperfine would)
# but alternately: run i of every command happens within the same moment,
# in an order shuffled afresh every round (shuf), so that no command always
# follows the same one (a command after another that filled the page cache
# or left work for the kernel pays for it). Each run is timed with date
# +%s%N around it (the same fork overhead for every command); the median of
# RUNS runs after 3 warm-ups is compared. Needs TMP (a scratch directory)
# and RUNS set.
#
# alternate NAME=CMD... : each argument is a name, "=", and a command line
# (split on spaces); writes the median in ms to $TMP/NAME.median and, for
# make bench's record (see record), every counted sample.
alternate() {
	for spec in "$@"; do
		: >"$TMP/${spec%%=*}.ms"
	done
	n=0
	while [ $n -lt $((RUNS + 3)) ]; do
		for k in $(shuffled_indices $#); do
			eval "spec=\${$k}"
			name=${spec%%=*}
			t0=$(date +%s%N)
			${spec#*=} >/dev/null 2>&1 || die "${spec#*=} failed"
			t1=$(date +%s%N)
			[ $n -ge 3 ] && echo $(((t1 - t0) / 1000)) >>"$TMP/$name.ms"
		done
		n=$((n + 1))
	done
	for spec in "$@"; do
		name=${spec%%=*}
		sort -n "$TMP/$name.ms" | awk '{ v[NR] = $1 } END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f\n", m / 1000 }' >"$TMP/$name.median"
		record "$name" "${spec#*=}" ms "$TMP/$name.ms" 1 0.001
	done
}
# measure NAME CMD... appends "SECONDS RSS_KB CPU_SECONDS" of one run of
# CMD to $TMP/NAME, its stdout thrown away: the script has built
# bench/measure as $MEASURE.
measure() {
	name=$1
	shift
	"$MEASURE" "$TMP/one" "$@" 2>"$TMP/err" || die "$* failed: $(cat "$TMP/err")"
	cat "$TMP/one" >>"$TMP/$name"
}
median_ms() { cat "$TMP/$1.median"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# shuffled_indices N: the numbers 1..N in a random order, one a line; and
# shuffled WORD...: the words in a random order. The benchmarks' rounds run
# their commands in such an order (see alternate).
shuffled_indices() { seq "$1" | shuf; }
shuffled() { shuf -e -- "$@"; }

# make bench's record of a run (scripts/bench sets BENCH_RECORD to a file;
# a script run by hand records nothing). bench/report turns the record into
# the run's JSON under bench/results/ and its chart. One line a fact, fields
# separated by tabs:
#   sample SCRIPT NAME LABEL UNIT VALUE...   every counted sample of a command
#   figure SCRIPT TITLE SUBJECT PEER...      a chart row: SUBJECT's median
#                                            beside each PEER's, with ratios
# NAMEs are the script's own (unique within it); SUBJECT and PEERs name
# samples of the same script.
#
# record NAME LABEL UNIT FILE [COLUMN [SCALE]]: the samples of a command,
# one a line in FILE (COLUMN, default 1, times SCALE, default 1).
record() {
	[ -n "${BENCH_RECORD:-}" ] || return 0
	vals=$(awk -v c="${5:-1}" -v f="${6:-1}" '{ printf " %.6g", $c * f }' "$4")
	printf 'sample\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$0" .sh)" "$1" "$2" "$3" "${vals# }" >>"$BENCH_RECORD"
}
# figure TITLE SUBJECT PEER...: a row of the chart (see above).
figure() {
	[ -n "${BENCH_RECORD:-}" ] || return 0
	title=$1
	shift
	line=$(printf '%s\t' "$@")
	printf 'figure\t%s\t%s\t%s\n' "$(basename "$0" .sh)" "$title" "${line%	}" >>"$BENCH_RECORD"
}

# await_settled DIR PROBE MAXWAIT: on ext4 without a journal, inodes freed in
# the last minutes make every file creation slow (25 us per file at rest here,
# 35-40 us for minutes after a large deletion, ~900 us right after; see
# import.sh), which a start (~30 files) or an import (thousands) pays while
# its peers create none: so wait, up to MAXWAIT seconds and saying so, until
# creating a file in DIR costs under 25 us three times in a row (PROBE is
# bench/fsprobe built; a single probe can land in a block group the deletion
# did not touch). Sets US to the last figure. A warning when it does not
# settle: the figures are then unreliable, as earlier sessions' were.
await_settled() {
	waited=0
	good=0
	while :; do
		US=$("$2" "$1" 2000) || die "fsprobe failed"
		if awk -v u="$US" 'BEGIN { exit !(u < 25) }'; then
			good=$((good + 1))
			[ $good -ge 3 ] && break
			continue
		fi
		good=0
		if [ $waited -ge "$3" ]; then
			echo "warning: creating a file in $1 still costs $US us after ${waited}s: the figures below are unreliable" >&2
			break
		fi
		[ $waited -eq 0 ] && echo "creating a file in $1 costs $US us (inodes freed in the last minutes, ext4 without a journal?): waiting for it to settle ..."
		sleep 5
		waited=$((waited + 5))
	done
	echo "file creation in $1: $US us per file$([ $waited -gt 0 ] && echo ", after waiting ${waited}s")"
}

# settle_disk DIR MAXWAIT: await_settled for a script's own directory DIR
# (bench/fsprobe built into $BENCH_DIR), the figure recorded with the run.
# Needs go, BENCH_DIR and TMP.
settle_disk() {
	probe=$BENCH_DIR/fsprobe
	(cd "$(dirname "$0")/fsprobe" && go build -o "$probe" .) || die "cannot build bench/fsprobe"
	await_settled "$1" "$probe" "$2"
	echo "$US" >"$TMP/fsprobe"
	record fsprobe "file creation before the runs (bench/fsprobe)" us "$TMP/fsprobe"
}
