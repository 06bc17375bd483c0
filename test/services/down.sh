#!/usr/bin/env bash
# Stops every test server started by up.sh.
set -uo pipefail
cd "$(dirname "$0")"
for down in ./*-down.sh; do
  [ -e "$down" ] || continue
  bash "$down" >&2 || echo "[services] $down failed" >&2
done
exit 0
