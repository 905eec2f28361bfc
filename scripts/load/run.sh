#!/usr/bin/env bash
# Evaluation load test: vane's POST /api/v1/feature-flags/{key}/evaluate and OFREP single, next to a
# bare gin handler returning fixed JSON, on this machine, in one run. wrk: 2 threads, 32
# connections, 10 s each (DURATION overrides), in ROUNDS rounds (default 3) of bare, evaluate,
# OFREP one after another, so each ratio compares runs made at the same moment; the median ratio
# is printed last (a shared machine's load moves single runs by 10%). Traffic goes to 127.0.0.1 only.
#   scripts/load/run.sh            (needs wrk: apt-get install -y wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk"; exit 1; }
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
VANE_PORT=${VANE_PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source scripts/load/lib.sh
go build -o "$work/bare" ./scripts/load/bare
"$work/bare" "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 &
start_vane "$VANE_PORT"
for _ in $(seq 1 100); do curl -fs -X POST "http://127.0.0.1:$BARE_PORT/evaluate" >/dev/null 2>&1 && break; sleep 0.1; done
sign_in
flags="$base/api/v1/orgs/default/projects/default/flags"
curl -fs -X POST "$flags" "${auth[@]}" -d '{"key":"load-test","name":"Load test"}' >/dev/null
curl -fs -X PATCH "$flags/load-test/environments/production" "${auth[@]}" -d '{"status":"ACTIVE",
  "rules":[{"id":"pro-na","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]},
  {"attribute":"country","operator":"in","values":["US","CA","GB"]}],"serve":{"rollout":{"variations":[
  {"variation":"true","weight":50000},{"variation":"false","weight":50000}]}}}]}' >/dev/null
sdk=$(curl -fs "$base/api/v1/orgs/default/projects/default/environments/production" "${auth[@]}" \
  | json "['sdk_keys'][1]['key']")

run() { # name url kind: prints the result line, and its requests/s on fd 3
  local out
  out=$(SDK_KEY="$sdk" BODY_KIND="$3" wrk -t2 -c32 -d"$DURATION" -s scripts/load/evaluate.lua "$2" | grep '^RESULT')
  echo "$1 ${out#RESULT }"
  rps=${out#*requests/s=}
  echo "${rps%% *}" >&3
}
echo "== wrk -t2 -c32 -d$DURATION, rotating user ids, $(nproc) cores, $ROUNDS rounds"
ratios_eval=() ratios_ofrep=()
for round in $(seq 1 "$ROUNDS"); do
  exec 3>"$work/rps"
  run "bare-gin          " "http://127.0.0.1:$BARE_PORT/evaluate" vane
  run "vane-evaluate     " "$base/api/v1/feature-flags/load-test/evaluate" vane
  run "vane-ofrep-single " "$base/ofrep/v1/evaluate/flags/load-test" ofrep
  exec 3>&-
  mapfile -t rps <"$work/rps"
  ratios_eval+=("$(python3 -c "print(round($((rps[1])) / $((rps[0])), 2))")")
  ratios_ofrep+=("$(python3 -c "print(round($((rps[2])) / $((rps[0])), 2))")")
  echo "round $round: evaluate ${ratios_eval[-1]} of bare gin, OFREP ${ratios_ofrep[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median ratio to bare gin: evaluate $(median "${ratios_eval[@]}"), OFREP single $(median "${ratios_ofrep[@]}")"
