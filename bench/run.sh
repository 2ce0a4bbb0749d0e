#!/usr/bin/env bash
# Measures ferry on generated Auth0 users and prints a table for BENCHMARKS.md.
# Usage: bench/run.sh [USERS]   (default 1000000; the RSS row also runs 100000)
# Everything runs in one go on the same data, so ratios compare like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
OUT="${BENCH_OUT:-bench/out}"
mkdir -p "$OUT"
export PATH="$PATH:/usr/local/go/bin"

go build -o "$OUT/ferry" ./cmd/ferry
FERRY="$OUT/ferry"

gen() { # provider users file
  [ -s "$3" ] || "$FERRY" gen --provider "$1" --users "$2" --seed 1 --out "$3"
}
gen auth0 "$N" "$OUT/auth0-$N.ndjson"
gen auth0 100000 "$OUT/auth0-100000.ndjson"

# secs_and_rss CMD...: runs CMD, prints "seconds maxrss_kb"
secs_and_rss() {
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > /dev/null 2> "$OUT/stderr.txt" || { cat "$OUT/stderr.txt"; return 1; }
  cat "$OUT/time.txt"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "users: $N ($(du -h "$OUT/auth0-$N.ndjson" | cut -f1) of Auth0 NDJSON)"
echo

read -r f_s f_rss < <(secs_and_rss "$FERRY" migrate --from "$OUT/auth0-$N.ndjson" --from-format auth0 --to "$OUT/scim-$N.ndjson" --no-progress --rejects "$OUT/rejects.ndjson" --changes "$OUT/changes.ndjson")
read -r h_s h_rss < <(secs_and_rss "$FERRY" migrate --from "$OUT/auth0-100000.ndjson" --from-format auth0 --to "$OUT/scim-100000.ndjson" --no-progress)

b_line=$(BENCH_USERS="$N" BENCH_INPUT="$OUT/auth0-$N.ndjson" go test -run='^$' -bench='BenchmarkBaselineDecodeEncode/auth0' -benchtime=1x ./bench | grep users/s || true)
b_ups=$(echo "$b_line" | grep -o '[0-9.]* users/s' | cut -d' ' -f1)

n_s=""
if command -v node >/dev/null; then
  read -r n_s n_rss < <(secs_and_rss node bench/auth0-to-scim.js "$OUT/auth0-$N.ndjson" "$OUT/node-$N.ndjson")
fi

ups() { awk -v n="$1" -v s="$2" 'BEGIN{ if (s>0) printf "%.0f", n/s; else print "-" }'; }
f_ups=$(ups "$N" "$f_s")
printf "| measurement | seconds | users/s | peak RSS | ratio |\n|---|---|---|---|---|\n"
printf "| ferry migrate Auth0 -> SCIM, all rules, %s users | %s | %s | %.0f MB | 1.00 |\n" "$N" "$f_s" "$f_ups" "$(echo "$f_rss/1024" | bc -l)"
printf "| ferry migrate, 100000 users | %s | %s | %.0f MB | RSS 1M/100k: %.2f |\n" "$h_s" "$(ups 100000 "$h_s")" "$(echo "$h_rss/1024" | bc -l)" "$(echo "$f_rss/$h_rss" | bc -l)"
if [ -n "$b_ups" ]; then
  printf "| baseline: segmentio decode+encode, 1 goroutine | - | %.0f | - | ferry/baseline: %.2f |\n" "$b_ups" "$(echo "$f_ups/$b_ups" | bc -l)"
fi
if [ -n "$n_s" ]; then
  printf "| hand-written Node.js mapping script | %s | %s | %.0f MB | ferry/node: %.2f |\n" "$n_s" "$(ups "$N" "$n_s")" "$(echo "$n_rss/1024" | bc -l)" "$(echo "$f_ups/$(ups "$N" "$n_s")" | bc -l)"
fi
