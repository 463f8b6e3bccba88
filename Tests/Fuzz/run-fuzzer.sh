#!/bin/sh
# Runs one harness: ./run-fuzzer.sh FuzzConfig [seconds] [extra libFuzzer flags]
# New inputs go to Work/<target> (ignored by git); Corpus/<target> holds the seeds.
set -e
target=$1; seconds=${2:-600}; shift; [ $# -gt 0 ] && shift
case $target in
  FuzzSafeTensors) dict=safetensors.dict; max_len=8192 ;;
  FuzzTokenizer) dict=tokenizer.dict; max_len=32768 ;;
  FuzzConfig) dict=config.dict; max_len=4096 ;;
  FuzzRecipes) dict=recipes.dict; max_len=4096 ;;
  *) echo "unknown target '$target'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"
mkdir -p "Work/$target" Artifacts
# Foundation's file reader leaks a buffer now and then; the harness hunts crashes, not leaks.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} exec "./.build/release/$target" "Work/$target" "Corpus/$target" \
  -dict="$dict" -max_len="$max_len" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="Artifacts/$target-" -print_final_stats=1 "$@"
