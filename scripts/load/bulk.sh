#!/usr/bin/env bash
# Bulk evaluation load test: OFREP bulk (POST /ofrep/v1/evaluate/flags) and source 003's {key: value}
# map (POST /api/v1/feature-flags/evaluate) next to a bare gin handler returning fixed JSON, in one
# run, for environments of 200 and 2 000 flags (FLAGS overrides: "200 2000"). One flag in 200 depends
# on the context (a 25% rollout or a rule on plan); the others are on for everyone, off, or killed.
# wrk: 2 threads, 32 connections, 10 s each (DURATION overrides), rotating user ids; traffic goes to
# 127.0.0.1 only.
#   scripts/load/bulk.sh            (needs wrk: apt-get install -y wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk"; exit 1; }
DURATION=${DURATION:-10s}
FLAGS=${FLAGS:-"200 2000"}
VANE_PORT=${VANE_PORT:-18090}
BARE_PORT=${BARE_PORT:-18091}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source scripts/load/lib.sh
go build -o "$work/bare" ./scripts/load/bare
"$work/bare" "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 &
start_vane "$VANE_PORT" VANE_PORTAL_ADDR=off
for _ in $(seq 1 100); do curl -fs -X POST "http://127.0.0.1:$BARE_PORT/evaluate" >/dev/null 2>&1 && break; sleep 0.1; done
sign_in
export token base
sdk=$(curl -fs "$base/api/v1/orgs/default/projects/default/environments/production" "${auth[@]}" \
  | json "['sdk_keys'][1]['key']")

# seed_flag i: flag i of the environment (flat API, production). Every 200th depends on the context.
seed_flag() {
  local i=$1 body
  case $((i % 200)) in
    0) if (( i % 400 == 0 )); then body='"enabled":true,"rules":{"percentage":25}'
       else body='"rollout_percentage":100,"status":"ACTIVE","targeting_rules":[{"attribute":"plan","operator":"equals","value":"pro"}]'; fi ;;
    1|2|3) body='"enabled":false' ;;
    *) body='"enabled":true' ;;
  esac
  curl -fs -o /dev/null -X POST "$base/api/v1/feature-flags" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -H 'X-Vane-Environment: default/default/production' \
    -d "{\"key\":\"flag-$(printf %05d "$i")\",\"name\":\"Flag $i\",$body}" || { echo "seeding flag $i failed"; exit 1; }
}
export -f seed_flag

run() { # name url kind
  local out
  out=$(SDK_KEY="$sdk" BODY_KIND="$3" wrk -t2 -c32 -d"$DURATION" -s scripts/load/evaluate.lua "$2" | grep '^RESULT')
  echo "${out#RESULT }"
}
rate() { sed -E 's/.*requests\/s=([0-9]+).*/\1/' <<<"$1"; }
size() { curl -fs -o /dev/null -w '%{size_download}' -X POST "$1" -H "X-API-Key: $sdk" -H 'Content-Type: application/json' -d "$2"; }

have=0
echo "== wrk -t2 -c32 -d$DURATION, rotating user ids, $(nproc) cores, $(date -u +%F)"
for n in $FLAGS; do
  seq "$have" $((n - 1)) | xargs -P 4 -I{} bash -c 'seed_flag {}'
  have=$n
  # the first request after the writes rebuilds the snapshot
  curl -fs -o /dev/null -X POST "$base/ofrep/v1/evaluate/flags" -H "X-API-Key: $sdk" -d '{"context":{"targetingKey":"warm"}}'
  bare=$(run bare "http://127.0.0.1:$BARE_PORT/evaluate" vane)
  ofrep=$(run ofrep "$base/ofrep/v1/evaluate/flags" ofrep)
  values=$(run values "$base/api/v1/feature-flags/evaluate" vane)
  ob=$(size "$base/ofrep/v1/evaluate/flags" '{"context":{"targetingKey":"user-1","plan":"pro"}}')
  vb=$(size "$base/api/v1/feature-flags/evaluate" '{"user_id":"user-1","attributes":{"plan":"pro"}}')
  echo "-- $n flags ($((n / 200)) depend on the context)"
  echo "bare-gin           $bare"
  echo "ofrep-bulk         $ofrep ratio=$(awk "BEGIN{printf \"%.2f\", $(rate "$ofrep")/$(rate "$bare")}") body=${ob}B"
  echo "values-map         $values ratio=$(awk "BEGIN{printf \"%.2f\", $(rate "$values")/$(rate "$bare")}") body=${vb}B"
done
