#!/bin/sh
# bench/publish.sh BIN — how fast is a published port?
#
# Target (issue 19): throughput and latency of an HTTP server in a pod
# reached through its published port on the host (127.0.0.1:8080: the
# host's own connections are translated once at connect() by acirun's cgroup
# BPF programs where the kernel has them, else by DNAT in acirun's nftables
# table) are at least 0.95x those of the same server reached at the pod's
# own address. The same port at the host's address on the pod's link, which
# the nftables DNAT translates packet by packet, is measured beside them for
# context. Debian's nginx serves a fixed reply in
# the pod; Debian's wrk (2 threads, 32 connections) loads it from the host.
# Both paths are measured in the same run, alternately (each round both, in
# a shuffled order), so that a busy machine slows them alike; the ratio is
# of the medians. Beside them it prints (and records) the CPU time of wrk
# and of the pod's processes per request on each path: the kernel's work
# for a packet is counted to the process it runs in, so the difference is
# what the published path's translation of each packet costs, a figure a
# busy machine, which takes CPUs away from both, distorts differently.
#
# Everything runs in a private network namespace (unshare --net): the
# pod's link, its address and the rules exist only there, and the load
# never leaves it.
#
# Needs root, wrk and nginx (Debian: apt-get install wrk nginx; the image
# is made from the host's /usr/sbin/nginx and the libraries it links), and
# unshare (util-linux). Images and the data directory live in $BENCH_DIR
# (default /var/tmp/acirun-bench); the image is rebuilt when nginx changes.
#
# Environment: BENCH_DIR, RUNS (default 3 per path), SECONDS_PER_RUN
# (default 8). Exit status 0 on PASS, 1 on FAIL, 2 on usage errors, 254 if
# the benchmark itself could not run.
set -eu

. "$(dirname "$0")/lib.sh"
bench_args "$@"
[ "$(id -u)" = 0 ] || die "needs root (namespaces, nftables)"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || [ -x /usr/sbin/nginx ] || die "nginx is needed (apt-get install nginx)"
NGINX=${NGINX:-/usr/sbin/nginx}

# Into a network namespace of our own, once: the script runs itself there.
if [ "${ACIRUN_BENCH_NETNS:-}" != 1 ]; then
	ACIRUN_BENCH_NETNS=1 exec unshare --net "$0" "$BIN"
fi
ip link set lo up

BENCH_DIR=${BENCH_DIR:-/var/tmp/acirun-bench}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
S=$BENCH_DIR/publish
DATA=$S/data
mkdir -p "$S"
TMP=$(mktemp -d)
cleanup() {
	[ -n "${POD:-}" ] && kill "$POD" 2>/dev/null && wait "$POD" 2>/dev/null
	"$BIN" --dir="$DATA" --run-dir="$TMP/run" gc --grace-period=0s >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT

warn_if_loaded 2

# --- the image: nginx and what it links, a fixed reply on port 8080 ------------
ARCH=$(uname -m)
case $ARCH in x86_64) ARCH=amd64 ;; aarch64) ARCH=aarch64 ;; esac
stamp="$(sha256sum "$NGINX" | cut -d' ' -f1) $(sha256sum "$0" | cut -d' ' -f1)"
if [ ! -s "$S/nginx.aci" ] || [ "$(cat "$S/stamp" 2>/dev/null)" != "$stamp" ]; then
	R=$TMP/nginx/rootfs
	mkdir -p "$R/usr/sbin" "$R/etc/nginx" "$R/var/log/nginx" "$R/var/lib/nginx" "$R/run" "$R/tmp"
	cp "$NGINX" "$R/usr/sbin/nginx"
	for lib in $(ldd "$NGINX" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
	echo "root:x:0:0:root:/:/bin/false" >"$R/etc/passwd"
	echo "root:x:0:" >"$R/etc/group"
	cat >"$R/etc/nginx/nginx.conf" <<-'EOF'
	user root;
	worker_processes auto;
	pid /run/nginx.pid;
	error_log stderr warn;
	events { worker_connections 1024; }
	http {
		access_log off;
		keepalive_requests 100000;
		server {
			listen 8080;
			location / { return 200 "hello from nginx\n"; }
		}
	}
	EOF
	cat >"$TMP/nginx/manifest" <<-EOF
	{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/acirun-bench/nginx",
	 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "$ARCH"}],
	 "app": {"exec": ["/usr/sbin/nginx", "-g", "daemon off;"], "user": "0", "group": "0",
	         "ports": [{"name": "http", "protocol": "tcp", "port": 8080}]}}
	EOF
	"$BIN" image build --overwrite "$TMP/nginx" "$S/nginx.aci" >/dev/null || die "image build nginx failed"
	echo "$stamp" >"$S/stamp"
fi

# --- the pod ---------------------------------------------------------------------
"$BIN" --dir="$DATA" --run-dir="$TMP/run" --local-config="$S/etc" --system-config="$S/usr" \
	run --insecure-options=image --uuid-file-save="$TMP/uuid" "$S/nginx.aci" >"$TMP/pod.log" 2>&1 &
POD=$!
i=0
while [ $i -lt 100 ]; do
	if [ -s "$TMP/uuid" ] && [ -s "$DATA/pods/$(cat "$TMP/uuid")/net.json" ] &&
		wrk -t1 -c1 -d1s "http://127.0.0.1:8080/" >/dev/null 2>&1; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
NET=$DATA/pods/$(cat "$TMP/uuid" 2>/dev/null)/net.json
POD_IP=$(sed -n 's/.*"ip":"\([0-9.]*\)".*/\1/p' "$NET" 2>/dev/null)
[ -n "$POD_IP" ] || { cat "$TMP/pod.log" >&2; die "the nginx pod did not start"; }
grep -q '"host":"0.0.0.0:8080"' "$NET" || { cat "$NET" >&2; die "the pod's port is not published on every address"; }

# --- the load, alternately -------------------------------------------------------
# The nginx processes of the pod: the run's descendants (acirun-stage1 init,
# then nginx's master and workers).
descendants() { for c in $(pgrep -P "$1"); do echo "$c" && descendants "$c"; done; }
NGINX_PIDS=$(descendants "$POD" | tr '\n' ' ')
case " $(for p in $NGINX_PIDS; do cat "/proc/$p/comm"; done | tr '\n' ' ')" in
*" nginx "*) ;;
*) echo "warning: no nginx process under the run's ($POD): the CPU per request counts wrk's only" >&2 ;;
esac
# cpu_ticks: the CPU time (user and system, in clock ticks) of the pod's
# processes, and of this shell's children that have ended (wrk's); the
# kernel's work for a packet is counted to the process it runs in.
cpu_ticks() {
	for p in $$ $NGINX_PIDS; do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null; done |
		awk -v self=1 '{ t += $12 + $13; if (self) t += $14 + $15; self = 0 } END { print t }'
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# wrk_run NAME URL: one run; appends "REQUESTS_PER_S LATENCY_MS
# CPU_US_PER_REQUEST" to TMP/NAME. The CPU time per request (wrk's and the
# pod's) is what a busy machine distorts least: there the requests per
# second follow the share of the CPUs the run gets.
wrk_run() {
	c0=$(cpu_ticks)
	wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" "$2" >"$TMP/wrk.out" 2>&1 || die "wrk $2 failed: $(cat "$TMP/wrk.out")"
	c1=$(cpu_ticks)
	grep -q 'Non-2xx\|Socket errors' "$TMP/wrk.out" && die "wrk $2 had errors: $(cat "$TMP/wrk.out")"
	awk -v cpu=$(((c1 - c0) * TICK_US)) '
		/^ *Latency/ { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
			ms = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
		/ requests in / { n = $1 }
		/^Requests\/sec:/ { rps = $2 }
		END { if (rps == "" || n == 0) exit 1; printf "%s %.3f %.2f\n", rps, ms, cpu / n }' "$TMP/wrk.out" >>"$TMP/$1" ||
		die "wrk $2: no figures in: $(cat "$TMP/wrk.out")"
}
: >"$TMP/published"
: >"$TMP/direct"
: >"$TMP/hostaddr"
# For context (no verdict): the same port at the host's own address on the
# pod's link (the gateway), which the socket path leaves to the nftables
# DNAT in output (only loopback destinations are taken at connect(): whether
# another address is the host's cannot be told there), as traffic from
# other machines is translated in prerouting.
HOST_IP=$(sed -n 's/.*"gateway":"\([0-9.]*\)".*/\1/p' "$NET")
[ -n "$HOST_IP" ] || { cat "$NET" >&2; die "no gateway (the host's address on the pod's link) in the pod's net.json"; }
n=0
while [ $n -lt "$RUNS" ]; do
	for c in $(shuffled published direct hostaddr); do
		case $c in
		published) wrk_run published "http://127.0.0.1:8080/" ;;
		direct) wrk_run direct "http://$POD_IP:8080/" ;;
		hostaddr) wrk_run hostaddr "http://$HOST_IP:8080/" ;;
		esac
	done
	n=$((n + 1))
done
P_RPS=$(median "$TMP/published" 1) D_RPS=$(median "$TMP/direct" 1)
P_LAT=$(median "$TMP/published" 2) D_LAT=$(median "$TMP/direct" 2)
P_CPU=$(median "$TMP/published" 3) D_CPU=$(median "$TMP/direct" 3)
H_RPS=$(median "$TMP/hostaddr" 1) H_LAT=$(median "$TMP/hostaddr" 2) H_CPU=$(median "$TMP/hostaddr" 3)
R=$(ratio "$P_RPS" "$D_RPS")
record published "wrk http://127.0.0.1:8080/ (published port)" req/s "$TMP/published" 1
record direct "wrk http://POD-IP:8080/ (the pod's own address)" req/s "$TMP/direct" 1
record published-latency "mean latency, published port" ms "$TMP/published" 2
record direct-latency "mean latency, the pod's own address" ms "$TMP/direct" 2
record published-cpu "CPU per request (wrk and nginx), published port" us "$TMP/published" 3
record direct-cpu "CPU per request (wrk and nginx), the pod's own address" us "$TMP/direct" 3
record hostaddr "wrk http://HOST-IP:8080/ (published port at the host's address on the pod's link, DNAT)" req/s "$TMP/hostaddr" 1
record hostaddr-cpu "CPU per request (wrk and nginx), published port at the host's address, DNAT" us "$TMP/hostaddr" 3
figure "throughput of a published port (target >= 0.95x the pod's own address)" "published=published port" "direct=pod's own address"
echo "nginx in a pod, wrk -t2 -c32 -d${SECONDS_PER_RUN}s, $RUNS runs each, alternately (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  %-40s %10s req/s  %8s ms mean latency  %6s us CPU per request\n' "published port (127.0.0.1:8080)" "$P_RPS" "$P_LAT" "$P_CPU" \
	"pod's own address ($POD_IP:8080)" "$D_RPS" "$D_LAT" "$D_CPU" \
	"host's address ($HOST_IP:8080, DNAT)" "$H_RPS" "$H_LAT" "$H_CPU"
echo "CPU per request through the published port: $(ratio "$P_CPU" "$D_CPU") x the pod's own address"
echo "for context, the published port at the host's address on the pod's link (nftables DNAT, as from other machines): $(ratio "$H_RPS" "$D_RPS") x the pod's own address, CPU per request $(ratio "$H_CPU" "$D_CPU") x"
status=0
if awk -v r="$R" 'BEGIN { exit !(r >= 0.95) }'; then
	echo "PASS published port: $R x the pod's own address (target >= 0.95); latency $(ratio "$P_LAT" "$D_LAT") x"
else
	echo "FAIL published port: $R x the pod's own address (target >= 0.95); latency $(ratio "$P_LAT" "$D_LAT") x"
	status=1
fi
exit $status
