#!/usr/bin/env bash
# Starts every test server this project has (each test/services/*-up.sh), as root: sshd-up.sh
# first (it creates the SSH test users, which slurm-up.sh gives accounting associations), then the
# others in glob order. Idempotent; exits non-zero if one of them did not come up. The tests that
# need a server skip with a printed reason when it is down.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
rc=0
# MPI for the parallel-job tests (issue 14): Debian's OpenMPI, on the one host every scheduler
# here runs its jobs on (installed only when missing)
(SCRIPT_NAME=openmpi && . ./lib.sh && ensure_pkgs openmpi-bin libopenmpi-dev) ||
  { echo "[services] OpenMPI could not be installed" >&2; rc=1; }
ups=(./sshd-up.sh)
for up in ./*-up.sh; do [ "$up" = ./sshd-up.sh ] || ups+=("$up"); done
for up in "${ups[@]}"; do
  [ -e "$up" ] || continue
  echo "[services] $up" >&2
  bash "$up" >&2 || { echo "[services] $up failed" >&2; rc=1; }
done
exit $rc
