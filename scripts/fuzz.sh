#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang 14 (ASan, UBSan) into
# ${FUZZ_BUILD_DIR:-build-fuzz}, configured once, and runs each for the
# given seconds on a copy of its seed corpus (tests/fuzz/corpus/<name>/)
# with its dictionary (tests/fuzz/<name>.dict). Nothing is written into the
# repository. Prints one line per fuzzer; exits non-zero when any of them
# finds a crash, a sanitizer error, a leak, a timeout or an out-of-memory,
# keeping the input that caused it and libFuzzer's output in the directory
# it prints.
#
# Usage: scripts/fuzz.sh [seconds-per-fuzzer]   (default 5; e.g. 600)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-5}
if ! [[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [seconds-per-fuzzer]   (a whole number of seconds, >= 1)" >&2
  exit 2
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIVESTAR_BUILD_TESTS=OFF \
    -DFIVESTAR_BUILD_FUZZERS=ON
fi
ninja -C "$BUILD_DIR" -j "${JOBS:-$(nproc)}" fuzzers

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fivestar-fuzz.XXXXXX")
# Undefined behaviour already aborts (-fno-sanitize-recover); say where.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# Stack traces with function names and lines (Debian's llvm-14).
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
fi
failed=()
for source in tests/fuzz/*_fuzzer.cc; do
  name=$(basename "$source" _fuzzer.cc)
  dir="$WORK/$name"
  mkdir -p "$dir/corpus" "$dir/findings"
  cp -R "tests/fuzz/corpus/$name/." "$dir/corpus/"
  args=(-max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10
        -print_final_stats=1 -artifact_prefix="$dir/findings/")
  if [ -f "tests/fuzz/$name.dict" ]; then
    args+=(-dict="tests/fuzz/$name.dict")
  fi
  if "$BUILD_DIR/tests/fuzz/${name}_fuzzer" "${args[@]}" "$dir/corpus" \
      >"$dir/output.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/output.log")
    status=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/output.log" | tail -n 1 |
             grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    echo "fuzz: $name: ${runs:-?} runs in ${SECONDS_EACH} s, ${status:-no coverage line}"
  else
    echo "fuzz: $name: FAILED; input in $dir/findings/, output in $dir/output.log"
    grep -m 3 -E '^==[0-9]+==ERROR|runtime error|FUZZ_CHECK failed|ALARM|out-of-memory' \
      "$dir/output.log" | sed 's/^/  /' || true
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} fuzzer(s) failed: ${failed[*]}; see $WORK" >&2
  exit 1
fi
rm -rf "$WORK"
