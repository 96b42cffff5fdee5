#!/usr/bin/env bash
# Load benchmark: tokend's introspection (warm and cold, SQLite and PostgreSQL) against two
# reference actix-web servers built and run in the same run, under the same wrk load; forward
# auth against introspection; and the management paths (a page of 100 of an owner's tokens,
# the organization oversight page, token creation) with start-up time and memory at 1M tokens.
# Prints the tables and writes them to BENCHMARKS.md.
#
#   bench/run.sh [N]            N seeded tokens (default 100000)
#   DURATION=10 ROUNDS=3 RSS=1 bench/run.sh
#   QUICK=1 bench/run.sh        (under 5 minutes: SQLite only, 20000 tokens, 3 s runs, one
#                                round, no 1M-token run; for development: the tables are
#                                printed, BENCHMARKS.md is left as it is)
#
# Loopback only; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

REPORT=BENCHMARKS.md
if [ "${QUICK:-}" = 1 ]; then
  : "${DURATION:=3}" "${ROUNDS:=1}" "${RSS:=0}" "${ONLY:=sqlite}"
  set -- "${1:-20000}"
  REPORT=/dev/null
fi
N=${1:-100000}
DURATION=${DURATION:-10}
# Paired rounds (reference, then tokend) per warm row; the median round is reported.
ROUNDS=${ROUNDS:-3}
# Concurrent clients of the list rows (one console, one request at a time: the latency a
# person waits for a page) and of the create row.
LIST_CONNECTIONS=${LIST_CONNECTIONS:-1}
CREATE_CONNECTIONS=${CREATE_CONNECTIONS:-16}
# Long enough for every seeded token to be seen (and cached) before the warm run.
WARMUP=${WARMUP:-$((N / 4000 + 5))}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=2
# HTTP workers of tokend and of the reference servers alike. wrk's two threads keep one of the
# two cores busy, so one worker is what the servers really have; one worker per core is
# measured too (the "… workers" row).
WORKERS=${WORKERS:-1}
RSS_TOKENS=${RSS_TOKENS:-1000000}
RSS=${RSS:-1}
PEPPERS="bench:bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
SESSION_SECRET="bench-session-secret-0123456789abcdefghijklmnop"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
echo "== building (release)"
cargo build --release --quiet --bin tokend --example seed --example reference_server
BIN=target/release

start_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version; version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main" || pg_createcluster "$version" main >/dev/null
  pg_ctlcluster "$version" main start 2>/dev/null || true
  PG_PORT=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
  su postgres -c "psql -q -p $PG_PORT -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  su postgres -c "psql -q -p $PG_PORT -c 'DROP DATABASE IF EXISTS tokend_bench WITH (FORCE)'" >/dev/null
  su postgres -c "psql -q -p $PG_PORT -c 'CREATE DATABASE tokend_bench'" >/dev/null
  PG_URL="postgres://postgres:postgres@127.0.0.1:$PG_PORT/tokend_bench"
}


cache_entries() { echo "   cache after warm-up: $(curl -s "http://$1/metrics" | awk '/^tokend_token_cache_entries/ {print $2}') entries"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# CPU ticks of every PostgreSQL process (a process gone by the time it is read counts 0).
pg_ticks() {
  local pid sum=0
  for pid in $(pgrep -u postgres 2>/dev/null); do
    sum=$((sum + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}

# per_request TICKS REQUESTS: CPU µs per request.
per_request() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$2" 'BEGIN {printf "%.1f", t * 1000000 / hz / r}'; }

# measure NAME PID ADDR GATEWAY TOKENS LIMIT SECONDS [REFERENCE_RPS] -> appends a row to
# $WORK/rows and sets LAST_RPS. A PostgreSQL row also counts the CPU time of PostgreSQL's
# processes (its share of the same two cores), "–" elsewhere.
measure() {
  local name=$1 pid=$2 addr=$3 gateway=$4 tokens=$5 limit=$6 seconds=$7 reference=${8:-}
  local before after out pg_before=0 pg_after=0
  case "$name" in *PostgreSQL*) pg_before=$(pg_ticks) ;; esac
  before=$(cpu_ticks "$pid")
  out=$(GATEWAY="$gateway" TOKENS_FILE="$tokens" LIMIT="$limit" WRK_THREADS=$THREADS \
    wrk -t$THREADS -c"$CONNECTIONS" -d"${seconds}s" --latency -s "${SCRIPT:-bench/introspect.lua}" "http://$addr")
  after=$(cpu_ticks "$pid")
  case "$name" in *PostgreSQL*) pg_after=$(pg_ticks) ;; esac
  local requests rps p50 p99 non2xx
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  # The last rate printed: bench/cold.lua prints its own after wrk's.
  rps=$(echo "$out" | awk '/Requests\/sec/ {rps = $NF} END {print rps}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}'); non2xx=${non2xx:-0}
  local cpu_us pg_us="–"
  cpu_us=$(per_request $((after - before)) "$requests")
  # A backend that exits during the run takes its ticks along: never below zero.
  case "$name" in *PostgreSQL*) pg_us=$(per_request $((pg_after > pg_before ? pg_after - pg_before : 0)) "$requests") ;; esac
  echo "$name|$rps|$p50|$p99|$cpu_us|$non2xx|$requests|${reference:-$rps}|$pg_us" >> "${ROWS:-$WORK/rows}"
  printf '%-42s %10s req/s  p50 %-8s p99 %-8s cpu %6s µs/req  postgres %6s µs/req  non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "$cpu_us" "$pg_us" "$non2xx"
  LAST_RPS=$rps
}

# reference_rps SECONDS: req/s of the HMAC + HashMap reference (kept running) over that time.
reference_rps() {
  local rps
  rps=$(TOKENS_FILE="$WORK/sqlite/tokens" LIMIT="$N" WRK_THREADS=$THREADS GATEWAY=x \
    wrk -t$THREADS -c"$CONNECTIONS" -d"$1s" -s bench/introspect.lua http://127.0.0.1:18091 |
    awk '/Requests\/sec/ {print $2}')
  echo "   (reference: $rps req/s)" >&2
  echo "$rps"
}

# paired NAME PID ADDR GATEWAY TOKENS LIMIT SECONDS: $ROUNDS bracketed rounds; the row is the
# round with the median ratio. These shared machines drift by well over 15% within minutes, so
# only neighbouring runs compare.
paired() {
  : > "$WORK/rounds"
  for _ in $(seq 1 "$ROUNDS"); do
    bracketed "$@"
  done
  median ratio "$WORK/rounds" "$WORK/rows"
}

# bracketed NAME PID ADDR GATEWAY TOKENS LIMIT SECONDS: one round: the reference right before
# and right after a tokend measurement of the same length; the round's reference is their mean,
# so that the machine's drift during the round cancels out instead of landing on the ratio.
bracketed() {
  local before after
  before=$(reference_rps "$7")
  ROWS="$WORK/one" measure "$@" "$before"
  after=$(reference_rps "$7")
  awk -F'|' -v OFS='|' -v b="$before" -v a="$after" '{ $8 = sprintf("%.2f", (b + a) / 2); print }' \
    "$WORK/one" >> "$WORK/rounds"
  : > "$WORK/one"
}

# median KEY IN OUT: appends the line of IN (rows as measure writes them) with the median KEY
# to OUT, and empties IN. KEY is `ratio` (req/s over the reference), `rate` (req/s) or `p99`
# (as wrk prints it: us, ms or s).
median() {
  local count; count=$(wc -l < "$2")
  awk -F'|' -v key="$1" '{
      if (key == "ratio") n = $2 / $8
      else if (key == "rate") n = $2
      else { n = $4 + 0; if ($4 ~ /us$/) n /= 1000; else if ($4 !~ /ms$/ && $4 ~ /s$/) n *= 1000 }
      printf "%.6f|%s\n", n, $0
    }' "$2" | sort -t'|' -k1,1 -g | sed -n "$(((count + 1) / 2))p" | cut -d'|' -f2- >> "$3"
  : > "$2"
}

# forward_auth_row NAME PID ADDR GATEWAY TOKENS: introspection, then forward auth, over the same
# 1k-token working set, $ROUNDS times; the row is forward auth, with the introspection run right
# before it as its reference (the target is ≥ 0.9×), the round with the median ratio.
forward_auth_row() {
  : > "$WORK/rounds"
  for _ in $(seq 1 "$ROUNDS"); do
    ROWS="$WORK/discarded" measure "   introspection right before" "$2" "$3" "$4" "$5" 1000 "$DURATION"
    SCRIPT=bench/forward_auth.lua ROWS="$WORK/rounds" measure "$1" "$2" "$3" "$4" "$5" 1000 "$DURATION" "$LAST_RPS"
  done
  median ratio "$WORK/rounds" "$WORK/rows"
}

# cold_row LABEL DIR URL ADDR GATEWAY: $ROUNDS rounds, each starting tokend afresh (an empty
# cache), then a bracketed round over the seeded tokens, each token at most once
# (bench/cold.lua: at most 3 s, its rate over the time until the tokens ran out); the row is
# the round with the median ratio, as for the warm rows. A single cold round swings by more
# than the margins to the targets on these machines.
cold_row() {
  local label=$1 dir=$2 url=$3 addr=$4 gateway=$5
  : > "$WORK/rounds"
  for _ in $(seq 1 "$ROUNDS"); do
    start_tokend "$dir" "$url" "$addr" 200000
    SCRIPT=bench/cold.lua bracketed "tokend $label cold (each token once)" "$TOKEND_PID" "$addr" "$gateway" "$dir/tokens" "$N" 3
    stop "$TOKEND_PID"
  done
  median ratio "$WORK/rounds" "$WORK/rows"
}

tokend_env() {
  # $1 data dir, $2 database url, $3 bind, $4 cache capacity, [$5 workers]
  # The TTL outlasts the run, so that warm rows measure cache hits (with the default 30 s, a
  # token loaded during the warm-up would be read again during the measurement).
  echo "TOKEND_ENV=production TOKEND_DATA_DIR=$1 TOKEND_DATABASE_URL=$2 TOKEND_BIND=$3 TOKEND_CACHE_CAPACITY=$4 TOKEND_CACHE_TTL_MS=600000 TOKEND_WORKERS=${5:-$WORKERS} \
TOKEND_PEPPERS=$PEPPERS TOKEND_SESSION_JWT_SECRET=$SESSION_SECRET TOKEND_LOG_FORMAT=json RUST_LOG=warn"
}

start_tokend() {
  # $1 data dir, $2 database url, $3 bind, $4 cache capacity, [$5 workers] -> sets TOKEND_PID
  env $(tokend_env "$1" "$2" "$3" "$4" "${5:-}") "$BIN/tokend" serve >>"$WORK/tokend.log" 2>&1 &
  TOKEND_PID=$!
  PIDS+=("$TOKEND_PID")
  for _ in $(seq 1 200); do curl -sf "http://$3/healthz" >/dev/null && return 0; sleep 0.05; done
  echo "tokend did not start" >&2; tail -20 "$WORK/tokend.log" >&2; return 1
}

stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

# management_rows LABEL PID ADDR DIR: the list pages and token creation as the seeded member,
# $ROUNDS runs each, into $WORK/manage: a list row is its run with the median p99, the create
# row its run with the median rate (lists first: creation adds tokens to the owner). A single
# run of a p99 swings with the machine; the median of a few does not.
management_rows() {
  local label=$1 pid=$2 addr=$3 session; session=$(cat "$4/session")
  local list
  for list in "list: a page of 100 of $N tokens|/v1/tokens?limit=100" \
      "organization oversight: a page of 100|/v1/organizations/bench/tokens?limit=100"; do
    for _ in $(seq 1 "$ROUNDS"); do
      SESSION="$session" LIST_PATH="${list#*|}" SCRIPT=bench/list.lua CONNECTIONS=$LIST_CONNECTIONS THREADS=1 \
        ROWS="$WORK/runs" measure "tokend $label ${list%%|*}" "$pid" "$addr" x x 0 "$DURATION"
    done
    median p99 "$WORK/runs" "$WORK/manage"
  done
  for _ in $(seq 1 "$ROUNDS"); do
    SESSION="$session" RUN="$label-$(date +%s%N)" SCRIPT=bench/create.lua CONNECTIONS=$CREATE_CONNECTIONS \
      ROWS="$WORK/runs" measure "tokend $label create (unique names)" "$pid" "$addr" x x 0 "$DURATION"
  done
  median rate "$WORK/runs" "$WORK/manage"
}

seed() {
  # $1 data dir, $2 database url, $3 count
  env $(tokend_env "$1" "$2" 127.0.0.1:1 0) "$BIN/examples/seed" "$3" "$1"
}

bench_tokend() {
  # $1 label, $2 data dir, $3 database url, $4 port, [$5 = reuse: already seeded]
  local label=$1 dir=$2 url=$3 addr=127.0.0.1:$4
  if [ "${5:-}" != reuse ]; then
    echo "== tokend on $label: seeding $N tokens"
    seed "$dir" "$url" "$N"
  fi
  local gateway; gateway=$(cat "$dir/gateway")
  start_tokend "$dir" "$url" "$addr" 200000
  GATEWAY="$gateway" TOKENS_FILE="$dir/tokens" LIMIT="$N" WRK_THREADS=$THREADS \
    wrk -t$THREADS -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/introspect.lua "http://$addr" >/dev/null
  cache_entries "$addr"
  sleep 2
  paired "tokend $label warm, 1k-token working set" "$TOKEND_PID" "$addr" "$gateway" "$dir/tokens" 1000 "$DURATION"
  paired "tokend $label warm, all $N tokens" "$TOKEND_PID" "$addr" "$gateway" "$dir/tokens" "$N" "$DURATION"
  forward_auth_row "tokend $label forward auth warm, 1k (× = vs introspection)" "$TOKEND_PID" "$addr" "$gateway" "$dir/tokens"
  management_rows "$label" "$TOKEND_PID" "$addr" "$dir"
  stop "$TOKEND_PID"
  cold_row "$label" "$dir" "$url" "$addr" "$gateway"
}

: > "$WORK/rows"
: > "$WORK/manage"
mkdir -p "$WORK/sqlite" "$WORK/pg" "$WORK/rss"

echo "== reference servers"
seed "$WORK/sqlite" "sqlite://$WORK/sqlite/tokend.db" "$N"
WORKERS=$WORKERS "$BIN/examples/reference_server" fixed 127.0.0.1:18090 & PIDS+=($!); REF_FIXED=$!
WORKERS=$WORKERS "$BIN/examples/reference_server" hashmap 127.0.0.1:18091 "$WORK/sqlite/tokens" & PIDS+=($!); REF_MAP=$!
sleep 2
measure "reference: HMAC + HashMap" "$REF_MAP" 127.0.0.1:18091 x "$WORK/sqlite/tokens" "$N" "$DURATION"
measure "reference: fixed JSON (HTTP limit)" "$REF_FIXED" 127.0.0.1:18090 x "$WORK/sqlite/tokens" "$N" "$DURATION" "$LAST_RPS"
stop "$REF_FIXED"

# tokend on SQLite reuses the tokens seeded above.
echo "== tokend on SQLite"
bench_tokend SQLite "$WORK/sqlite" "sqlite://$WORK/sqlite/tokend.db" 18092 reuse

CORES=$(nproc)
if [ "$WORKERS" != "$CORES" ]; then
  echo "== tokend on SQLite with $CORES workers (one per core, the default)"
  start_tokend "$WORK/sqlite" "sqlite://$WORK/sqlite/tokend.db" 127.0.0.1:18092 200000 "$CORES"
  GATEWAY="$(cat "$WORK/sqlite/gateway")" TOKENS_FILE="$WORK/sqlite/tokens" LIMIT=1000 WRK_THREADS=$THREADS \
    wrk -t$THREADS -c"$CONNECTIONS" -d3s -s bench/introspect.lua http://127.0.0.1:18092 >/dev/null
  paired "tokend SQLite warm, 1k-token working set, $CORES workers" "$TOKEND_PID" 127.0.0.1:18092 \
    "$(cat "$WORK/sqlite/gateway")" "$WORK/sqlite/tokens" 1000 "$DURATION"
  stop "$TOKEND_PID"
fi

if [ "${ONLY:-}" != sqlite ]; then
  start_postgres
  bench_tokend PostgreSQL "$WORK/pg" "$PG_URL" 18093
fi

RSS_LINE="not measured (RSS=0)"
START_LINE="not measured (RSS=0)"
if [ "$RSS" = 1 ]; then
  echo "== memory and start-up: $RSS_TOKENS tokens seeded, 100000 warmed"
  seed "$WORK/rss" "sqlite://$WORK/rss/tokend.db" "$RSS_TOKENS"
  STARTED=$(date +%s%N)
  start_tokend "$WORK/rss" "sqlite://$WORK/rss/tokend.db" 127.0.0.1:18094 200000
  until curl -sf http://127.0.0.1:18094/readyz >/dev/null; do sleep 0.01; done
  START_MS=$((($(date +%s%N) - STARTED) / 1000000))
  START_LINE="$START_MS ms from exec to a ready \`/readyz\` with $RSS_TOKENS tokens in SQLite (target ≤ 1000 ms)"
  echo "   $START_LINE"
  GATEWAY="$(cat "$WORK/rss/gateway")" TOKENS_FILE="$WORK/rss/tokens" LIMIT=100000 WRK_THREADS=$THREADS \
    wrk -t$THREADS -c"$CONNECTIONS" -d10s -s bench/introspect.lua http://127.0.0.1:18094 >/dev/null
  RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$TOKEND_PID/status")
  RSS_LINE="$((RSS_KB / 1024)) MiB RSS with $RSS_TOKENS tokens in SQLite and 100000 warmed in the cache (target ≤ 160 MiB)"
  echo "   $RSS_LINE"
  stop "$TOKEND_PID"
fi

{
  echo "# Benchmarks"
  echo
  echo "Introspection under load, measured by \`bench/run.sh $N\` on $(date -u +%Y-%m-%d) — every row from the same run."
  echo
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB; server and wrk share the cores"
  echo "- load: wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), $THREADS threads × $CONNECTIONS connections, ${DURATION}s (cold runs: each token at most once, at most 3s; the rate is over the time until the tokens ran out), loopback"
  echo "- servers: tokend and both references run $WORKERS HTTP worker(s) (\`TOKEND_WORKERS=$WORKERS\`): wrk keeps one of the $(nproc) cores busy, and a worker per core only adds scheduler waits to the tail; the row marked \"$(nproc) workers\" is tokend with its default of one worker per core"
  echo "- versions: $(rustc --version), tokend $(git rev-parse --short HEAD 2>/dev/null || echo unknown), PostgreSQL ${PG_PORT:+$(ls /usr/lib/postgresql | sort -n | tail -n 1)}"
  echo "- data: $N seeded personal tokens; the reference HashMap holds the same $N tokens"
  echo "- ratios: each tokend measurement stands between two runs of the HMAC + HashMap reference of the same length (the reference keeps running), and its ratio is to their mean; a row is the median of $ROUNDS such rounds (a cold round starts tokend afresh, for an empty cache). Throughput on these shared machines drifts by well over 15% within minutes"
  echo
  echo "| server | req/s | p50 | p99 | server CPU µs/req | PostgreSQL CPU µs/req | non-2xx | reference req/s (mean of the runs before and after) | × reference |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  while IFS='|' read -r name rps p50 p99 cpu non2xx requests reference pg; do
    ratio=$(awk -v a="$rps" -v b="$reference" 'BEGIN {printf "%.2f", a / b}')
    echo "| $name | $rps | $p50 | $p99 | $cpu | $pg | $non2xx | $reference | $ratio |"
  done < "$WORK/rows"
  echo
  echo "Management paths, as the seeded member (owner of every seeded token, admin of their organization), the median of $ROUNDS runs each (by p99 for the lists, by rate for creation): lists with $LIST_CONNECTIONS connections, creation with $CREATE_CONNECTIONS."
  echo
  echo "| path | req/s | p50 | p99 | server CPU µs/req | PostgreSQL CPU µs/req | non-2xx | target |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  while IFS='|' read -r name rps p50 p99 cpu non2xx requests reference pg; do
    case "$name" in *create*) target="≥ 3000 req/s (SQLite)" ;; *) target="p99 ≤ 10 ms" ;; esac
    echo "| $name | $rps | $p50 | $p99 | $cpu | $pg | $non2xx | $target |"
  done < "$WORK/manage"
  echo
  echo "Memory: $RSS_LINE."
  echo
  echo "Start-up: $START_LINE."
  echo
  echo "Forward-auth rows compare with an introspection run over the same working set right before them (target ≥ 0.9×), not with the reference server."
  echo
  echo "Targets (DESIGN §14): introspection over all tokens ≥ 0.9× (SQLite and PostgreSQL); cold SQLite ≥ 0.5×, cold PostgreSQL ≥ 0.35×; p99 ≤ 5 ms at $CONNECTIONS connections with the default worker count (the \"$(nproc) workers\" row); forward auth ≥ 0.9× of introspection; zero non-2xx; one database read per cold call (asserted by \`tests/statements.rs\`)."
  echo
  echo "\"Warm, 1k-token working set\" cycles over 1,000 of the seeded tokens (all cached); \"warm, all N tokens\" cycles over every seeded token, so each token is used again only every few seconds and nearly every request adds a token to the next usage batch (more than 1,000 distinct tokens a second: each interval goes to the usage journal, folded into the usage tables every 30 s). Cold runs start with an empty cache and use each token at most once: one SQL read per request. The benchmark sets \`TOKEND_CACHE_TTL_MS=600000\` so that warm rows are cache hits; with the default 30 s TTL every token is read again at most once per 30 s."
} > "$WORK/report.md"
[ "$REPORT" = /dev/null ] || cp "$WORK/report.md" "$REPORT"
echo
cat "$WORK/report.md"
