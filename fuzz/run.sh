#!/usr/bin/env bash
# Run every fuzz target (or those named) for SECONDS each, one after the
# other, each as one libFuzzer process (a single job), starting from its
# checked-in seeds in corpus/<target>/. What the run learns goes to
# work/<target>/ (ignored by git), crashes and timeouts to artifacts/.
# Prints per target the executions and the outcome, then a total line;
# exits 1 if any target crashed or timed out.
#
#   fuzz/run.sh SECONDS_PER_TARGET [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

secs=${1:-}
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: fuzz/run.sh SECONDS_PER_TARGET [TARGET...]" >&2
  exit 2
fi
shift
# Debug assertions on (integer overflow panics); no sanitizer: the targets
# are safe Rust, and an uninstrumented build runs several times faster.
flags=(-a --sanitizer none)
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "==> building ${#targets[@]} fuzz targets"
mkdir -p work
if ! cargo +nightly fuzz build "${flags[@]}" >work/build.log 2>&1; then
  tail -n 40 work/build.log >&2
  echo "fuzz build failed (whole log: fuzz/work/build.log)" >&2
  exit 1
fi

mkdir -p work
total=0
bad=0
printf '%-16s %14s %10s  %s\n' target executions exec/s result
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "artifacts/$t"
  log="work/$t.log"
  cargo +nightly fuzz run "${flags[@]}" "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -max_len=16384 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  runs=$(awk '/^stat::number_of_executed_units:/ { n = $NF } END { print n + 0 }' "$log")
  if [ "$rc" -eq 0 ]; then
    result=ok
  elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
    result="TIMEOUT (see fuzz/$log, fuzz/artifacts/$t/)"
    bad=$((bad + 1))
  else
    result="CRASH (see fuzz/$log, fuzz/artifacts/$t/)"
    bad=$((bad + 1))
  fi
  total=$((total + runs))
  printf '%-16s %14d %10d  %s\n' "$t" "$runs" $((runs / secs)) "$result"
done
printf '%-16s %14d %10s  %s\n' total "$total" "" "$bad target(s) crashed or timed out"
[ "$bad" -eq 0 ]
