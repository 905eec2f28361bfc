# Sourced by the load scripts (run from the repository root, with $work a scratch directory).
#   start_vane PORT [NAME=VALUE …]   build cmd/vane, start it on 127.0.0.1:PORT (embedded Redis;
#                                    SQLite unless DATABASE_URL is given), wait for /readyz;
#                                    sets base (its URL) and vane_pid
#   sign_in                          sign in as the first admin; sets token and auth (curl arguments)
#   json EXPR                        print EXPR of the JSON on stdin, e.g. json "['access_token']"

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start_vane() {
  local port=$1
  shift
  go build -o "$work/vane" ./cmd/vane
  env VANE_DATA_DIR="$work/data" VANE_ADDR="127.0.0.1:$port" VANE_ADMIN_PASSWORD=load-test-password \
    VANE_LOG_LEVEL=warn VANE_WORKER=false "$@" "$work/vane" serve >"$work/vane.log" 2>&1 &
  vane_pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 200); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$base/readyz" >/dev/null || { echo "vane did not start:"; cat "$work/vane.log"; exit 1; }
}

sign_in() {
  token=$(curl -fs -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"load-test-password"}' | json "['access_token']")
  auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
}
