#!/bin/bash
# Profiles pk-server under each pk-bench workload: where its CPU goes (perf record -e cpu-clock -g, the
# software clock, because this VM exposes no hardware counters) and how often it syncs and writes
# (perf stat on syscall tracepoints). Standalone server pinned to CPU 0, pk-bench to CPU 1, both at
# high priority in their own autogroup (see bench/compare.py). Ports 24300-24399.
#
# usage: [PK_SERVER=bin] bench/profile.sh [OUTDIR]        (default /tmp/pk-profile); prints a summary per workload and
#        leaves OUTDIR/<workload>.perf.txt (perf report --no-children, top symbols) and .stat.txt.
set -uo pipefail
if [ "${BENCH_IN_AUTOGROUP:-}" != 1 ]; then
    BENCH_IN_AUTOGROUP=1 exec setsid -w "$0" "$@"
fi
echo -15 > /proc/self/autogroup 2>/dev/null || true
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/pk-profile}
PORT=24301
SECS=${PROFILE_SECS:-3}
BENCH="nice -n -15 taskset -c 1 $REPO/build/pk-bench -s 127.0.0.1:$PORT"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/pk-profile-srv.XXXXXX)
cat > "$WORK/zoo.cfg" <<EOF
tickTime=2000
dataDir=$WORK/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
EOF
nice -n -15 taskset -c 0 "${PK_SERVER:-$REPO/build/pk-server}" "$WORK/zoo.cfg" > "$WORK/server.log" 2>&1 &
PID=$!
trap 'kill -9 $PID 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.5

# workload name -> pk-bench arguments (8 sessions x 32 outstanding, 1 KiB, like compare.py)
declare -A ARGS=(
  [read]="-w read -n 8 -k 32"
  [write]="-w write -n 8 -k 32"
  [mixed]="-w mixed -n 8 -k 32"
  [create-delete]="-w create-delete -n 8 -k 32"
  [watch]="-w watch --watchers 100"
  [connect]="-w connect -n 8"
  [write-2000]="-w write -r 2000"
  [read-10000]="-w read -r 10000"
)
for w in read write mixed create-delete watch connect write-2000 read-10000; do
    $BENCH ${ARGS[$w]} -p $PID --prefix "/prof-$w" --warmup 1 -d $((SECS + 1)) --label "$w" > "$OUT/$w.json" 2>/dev/null &
    BP=$!
    sleep 1.3
    perf stat -x, -e 'syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex' \
        -p $PID -o "$OUT/$w.stat.txt" -- sleep "$SECS" &
    SP=$!
    perf record -q -e cpu-clock -g -p $PID -o "$OUT/$w.perf.data" -- sleep "$SECS" > /dev/null 2>&1
    wait $SP || true
    wait $BP || true
    perf report -i "$OUT/$w.perf.data" --stdio --no-children --sort symbol -g none --percent-limit 1.5 \
        2> /dev/null | grep -v "^#" | grep -v "^$" | head -25 > "$OUT/$w.perf.txt" || true
    ops=$(sed -n 's/.*"ops_per_s":\([0-9.]*\).*/\1/p' "$OUT/$w.json")
    cpu=$(sed -n 's/.*"server_cpu_us_per_op":\([-0-9.]*\).*/\1/p' "$OUT/$w.json")
    syncs=$(awk -F, '/fdatasync|sys_enter_fsync/ {s+=$1} END {print s+0}' "$OUT/$w.stat.txt")
    echo "== $w: ${ops} ops/s, ${cpu} us server CPU/op, $(awk "BEGIN{printf \"%.0f\", $syncs/$SECS}") fsyncs/s"
    awk -F, '/syscalls/ {printf "   %-32s %10.0f/s\n", $3, $1/'"$SECS"'}' "$OUT/$w.stat.txt"
    head -12 "$OUT/$w.perf.txt" | sed 's/^/   /'
done
