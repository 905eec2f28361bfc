#!/usr/bin/env bash
# SSE load test: N (default 10 000) concurrent streams on one Vane node (embedded SQLite and Redis),
# the node's memory per idle stream, then CHANGES flag changes and how long each took to reach
# every stream (p50, p99, max). Client and node share this machine; traffic goes to 127.0.0.1.
#   scripts/load/streams.sh                          /api/v1/sdk/stream
#   STREAM=/ofrep/v1/stream scripts/load/streams.sh  OFREP's stream
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-10000}
CHANGES=${CHANGES:-5}
STREAM=${STREAM:-/api/v1/sdk/stream}
PORT=${PORT:-18083}
# One descriptor per stream on each side, plus the node's own: raise the limit as far as allowed.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((N + 100)) ] || { echo "ulimit -n is $(ulimit -n): too low for $N streams"; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

source scripts/load/lib.sh
go build -o "$work/streams" ./scripts/load/streams
start_vane "$PORT"
sign_in
# An API key: the changes outlive the access token's lifetime on a slow run.
key=$(curl -fs -X POST "$base/api/v1/orgs/default/api-keys" "${auth[@]}" -d '{"name":"load","scopes":["write"]}' | json "['secret']")
flags="$base/api/v1/orgs/default/projects/default/flags"
curl -fs -X POST "$flags" "${auth[@]}" -d '{"key":"load-test","name":"Load test"}' >/dev/null
curl -fs -X PATCH "$flags/load-test/environments/production" "${auth[@]}" -d '{"status":"ACTIVE","rollout_percentage":5}' >/dev/null
sdk=$(curl -fs "$base/api/v1/orgs/default/projects/default/environments/production" "${auth[@]}" \
  | json "['sdk_keys'][0]['key']")
case "$sdk" in srv-*) ;; *) sdk=$(curl -fs "$base/api/v1/orgs/default/projects/default/environments/production" "${auth[@]}" \
  | json "['sdk_keys'][1]['key']");; esac

echo "== $N streams on $STREAM, $CHANGES changes, $(nproc) cores (client and node on this machine)"
"$work/streams" -base "$base" -path "$STREAM" -sdk-key "$sdk" -token "$key" -n "$N" -changes "$CHANGES" -pid "$vane_pid" \
  -flag-config "/api/v1/orgs/default/projects/default/flags/load-test/environments/production"
grep -c . "$work/vane.log" >/dev/null && { echo "== node log (warnings and errors)"; tail -5 "$work/vane.log"; } || true
