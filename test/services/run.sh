#!/usr/bin/env bash
# deno task test:services — start the test servers, run every test, stop the servers.
set -uo pipefail
cd "$(dirname "$0")/../.."
bash test/services/up.sh || echo "[services] some servers are down; their tests will say so" >&2
deno task test
rc=$?
bash test/services/down.sh
exit $rc
