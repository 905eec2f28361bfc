#!/usr/bin/env bash
# Management-read load test: GET /api/v1/orgs/{org}/projects/{project}/flags?limit=50 on a project
# of FLAGS flags (default 1000, each with a rule in production), with a user's JWT and with an API
# key, wrk 2 threads and 64 connections, 10 s each (DURATION overrides), after 5 s of warm-up.
# Traffic goes to 127.0.0.1.
#   scripts/load/flags.sh                  embedded SQLite, in-process Redis
#   DB=postgres scripts/load/flags.sh      Postgres at PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#                                          in a schema of its own that is dropped afterwards
# Needs wrk (apt-get install -y wrk) and, for Postgres, psql.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk"; exit 1; }
DURATION=${DURATION:-10s}
FLAGS=${FLAGS:-1000}
CONNS=${CONNS:-64}
DB=${DB:-sqlite}
PORT=${PORT:-18082}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
work=$(mktemp -d)
schema="vane_load_$$"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$DB" = postgres ]; then psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

source scripts/load/lib.sh
envs=()
if [ "$DB" = postgres ]; then
  psql -q "$PG_URL" -c "CREATE SCHEMA $schema" >/dev/null
  sep='?'; case "$PG_URL" in *\?*) sep='&';; esac
  envs+=(DATABASE_URL="${PG_URL}${sep}search_path=$schema" VANE_JWT_SECRET=load-test-secret-of-at-least-32-bytes!!)
fi
start_vane "$PORT" "${envs[@]}"
sign_in
flags="$base/api/v1/orgs/default/projects/default/flags"
apikey=$(curl -fs -X POST "$base/api/v1/orgs/default/api-keys" "${auth[@]}" \
  -d '{"name":"load","scopes":["read"]}' | json "['secret']")

echo "== seeding $FLAGS flags on $DB"
python3 - "$flags" "$token" "$FLAGS" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
head = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def send(method, u, body):
    req = urllib.request.Request(u, data=json.dumps(body).encode(), headers=head, method=method)
    with urllib.request.urlopen(req) as r:
        r.read()
def one(i):
    key = "load-%05d" % i
    send("POST", url, {"key": key, "name": "Load %d" % i, "description": "flag number %d of the load test" % i,
                       "tags": ["load", "team-%d" % (i % 7)]})
    send("PATCH", url + "/" + key + "/environments/production", {"status": "ACTIVE", "rules": [{"id": "pro",
         "conditions": [{"attribute": "plan", "operator": "equals", "values": ["pro"]}],
         "serve": {"rollout": {"variations": [{"variation": "true", "weight": 50000}, {"variation": "false", "weight": 50000}]}}}]})
with ThreadPoolExecutor(4) as ex:
    list(ex.map(one, range(n)))
PY

run() { # name credential url
  local out
  out=$(AUTH="$2" wrk -t2 -c"$CONNS" -d"$DURATION" -s scripts/load/get.lua "$3" | grep '^RESULT')
  echo "$1 ${out#RESULT }"
}
# Warm up (caches built, the database settled after the seeding) before anything is measured.
AUTH="$token" wrk -t2 -c"$CONNS" -d3s -s scripts/load/get.lua "$flags?limit=50" >/dev/null
AUTH="$apikey" wrk -t2 -c"$CONNS" -d2s -s scripts/load/get.lua "$flags?limit=50" >/dev/null
echo "== wrk -t2 -c$CONNS -d$DURATION, $(nproc) cores, $DB, $FLAGS flags"
run "flags?limit=50 jwt          " "$token" "$flags?limit=50"
run "flags?limit=50 api-key      " "$apikey" "$flags?limit=50"
run "flags?limit=50&sort=key jwt " "$token" "$flags?limit=50&sort=key"
