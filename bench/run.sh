#!/usr/bin/env bash
# Measures ferry on generated Auth0 users and prints the table BENCHMARKS.md records.
#
# Usage: bench/run.sh [USERS]     default 1000000; the RSS rows also run 100000
#
# Every row runs in this one invocation on the same generated file, so ratios compare like
# with like even on a machine shared with other work. Generated data and outputs live in
# bench/out/ (gitignored); an existing input file is reused, so a second run starts at once.
# Environment: BENCH_OUT (default bench/out), BENCH_NASTY (share of awkward users, 0.05),
# BENCH_REPEAT (runs per timed row, best kept; default 3), BENCH_SKIP_RATE=1 (no sandbox rows).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
OUT="${BENCH_OUT:-bench/out}"
NASTY="${BENCH_NASTY:-0.05}"
REPEAT="${BENCH_REPEAT:-3}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export PATH="$PATH:/usr/local/go/bin"

go build -o "$OUT/ferry" ./cmd/ferry
FERRY="$OUT/ferry"

gen() { # users file
  [ -s "$2" ] || "$FERRY" gen --provider auth0 --users "$1" --seed 1 --nasty "$NASTY" --out "$2"
}
IN="$OUT/auth0-$N-nasty$NASTY.ndjson"
IN100K="$OUT/auth0-100000-nasty$NASTY.ndjson"
gen "$N" "$IN"
gen 100000 "$IN100K"

# timed LABEL CMD...: runs CMD REPEAT times; sets secs, cpu (user+sys) and rss_kb of the
# fastest run. /usr/bin/time reports the peak RSS of the process (children included).
timed() {
  local label="$1"; shift
  secs="" cpu="" rss_kb=""
  for _ in $(seq "$REPEAT"); do
    # Each run writes a fresh file: replacing the previous 1.4 GB output would time the
    # file system freeing it, not the run.
    rm -f "$OUT"/scim-*.ndjson "$OUT"/node-*.ndjson
    if ! /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" "$@" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt"; then
      # exit 1 means some users were rejected: still a complete run.
      [ "$(tail -c 200 "$OUT/stdout.txt" | grep -o '"exit_status":[0-9]*' | cut -d: -f2)" = "1" ] ||
        { echo "$label failed:" >&2; cat "$OUT/stderr.txt" >&2; return 1; }
    fi
    read -r s u y m < "$OUT/time.txt"
    if [ -z "$secs" ] || awk -v a="$s" -v b="$secs" 'BEGIN{exit !(a<b)}'; then
      secs=$s cpu=$(awk -v u="$u" -v y="$y" 'BEGIN{printf "%.2f", u+y}') rss_kb=$m
    fi
  done
}
ups() { awk -v n="$1" -v s="$2" 'BEGIN{ if (s>0) printf "%.0f", n/s; else print "-" }'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.0f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }'; }
cpu_us() { awk -v c="$1" -v n="$2" 'BEGIN{printf "%.1f", c*1e6/n}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), node $(node --version 2>/dev/null || echo none)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $N generated Auth0 users ($(du -h "$IN" | cut -f1), --nasty $NASTY), best of $REPEAT runs per row"
echo

MIGRATE=(migrate --from-format auth0 --no-progress --json --rules all)
timed all "$FERRY" "${MIGRATE[@]}" --from "$IN" --to "$OUT/scim-$N.ndjson" --rejects "$OUT/rejects.ndjson" --changes "$OUT/changes.ndjson"
f_s=$secs f_cpu=$cpu f_rss=$rss_kb
f_changes=$(grep -o '"changes":[0-9]*' "$OUT/stdout.txt" | cut -d: -f2)
f_rej=$(grep -o '"rejected":[0-9]*' "$OUT/stdout.txt" | cut -d: -f2)
timed file "$FERRY" migrate --from-format auth0 --no-progress --json --from "$IN" --to "$OUT/scim-file-$N.ndjson"
r_s=$secs r_cpu=$cpu r_rss=$rss_kb
timed 100k "$FERRY" "${MIGRATE[@]}" --from "$IN100K" --to "$OUT/scim-100000.ndjson" --rejects "$OUT/rejects-100k.ndjson" --changes "$OUT/changes-100k.ndjson"
h_s=$secs h_rss=$rss_kb

# The baseline: plain segmentio decode into map[string]any and encode of the same bytes,
# one goroutine (bench_test.go); the Go benchmark prints users/s.
b_lines=$(cd bench && BENCH_USERS="$N" BENCH_INPUT="$IN" go test -run='^$' -bench='BenchmarkBaselineDecodeEncode/auth0' -benchtime=1x -count="$REPEAT" . | grep users/s || true)
# the best of the REPEAT runs: its users/s and its CPU per user
b_ups="" b_cpu=""
read -r b_ups b_cpu < <(echo "$b_lines" | awk '{u=c=""; for(i=2;i<=NF;i++){if($i=="users/s")u=$(i-1); if($i=="cpu-us/user")c=$(i-1)} if(u!="") print u, c}' | sort -g | tail -1) || true

n_s=""
if command -v node > /dev/null; then
  timed node node bench/auth0-to-scim.js "$IN" "$OUT/node-$N.ndjson"
  n_s=$secs n_cpu=$cpu n_rss=$rss_kb
fi

f_ups=$(ups "$N" "$f_s")
echo "| row | seconds | users/s | CPU µs/user | peak RSS | compared |"
echo "|---|---|---|---|---|---|"
echo "| ferry migrate Auth0 -> SCIM NDJSON, \`--rules all\` + rejects + change log ($f_changes changes, $f_rej rejected) | $f_s | $f_ups | $(cpu_us "$f_cpu" "$N") | $(mb "$f_rss") MB | - |"
echo "| ferry migrate Auth0 -> SCIM NDJSON, default rules for a file target (PII only) | $r_s | $(ups "$N" "$r_s") | $(cpu_us "$r_cpu" "$N") | $(mb "$r_rss") MB | - |"
if [ -n "$b_ups" ]; then
  echo "| baseline: segmentio decode (map[string]any) + encode, 1 goroutine | - | $(printf %.0f "$b_ups") | $b_cpu | - | ferry/baseline users/s: $(ratio "$f_ups" "$b_ups") |"
fi
if [ -n "$n_s" ]; then
  echo "| hand-written Node.js mapping (bench/auth0-to-scim.js) | $n_s | $(ups "$N" "$n_s") | $(cpu_us "$n_cpu" "$N") | $(mb "$n_rss") MB | ferry/node users/s: $(ratio "$f_ups" "$(ups "$N" "$n_s")") |"
fi
echo "| ferry \`--rules all\`, 100000 users | $h_s | $(ups 100000 "$h_s") | - | $(mb "$h_rss") MB | RSS ${N}/100k: $(ratio "$f_rss" "$h_rss") |"

if [ "${BENCH_SKIP_RATE:-}" != 1 ]; then
  echo
  echo "Rate-limited sandboxes (through a counting proxy; bench/rate_test.go):"
  echo
  echo "| run | users | seconds | users/s | requests | ceiling | 429s (after warm-up) | sustained after warm-up |"
  echo "|---|---|---|---|---|---|---|---|"
  (cd bench && BENCH_FERRY="$FERRY" go test -run TestRateCeiling -count=1 -v . | grep '^RATE' | sed 's/^RATE //')
fi
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
