#!/bin/sh
# Run one probe in a private network namespace where only loopback exists
# (testing-real-clis.md §2), so nothing can leave 127.0.0.1.
# Usage (root): run-in-netns.sh PROBE.py [ARGS…]   (export ABG_E2E_CODEX /
# ABG_E2E_CLAUDE first: `set -a; . ~/.cache/abg-e2e/cli/env; set +a`).
set -eu
export PYTHONDONTWRITEBYTECODE=1
exec unshare -n sh -c 'ip link set lo up && exec python3 "$@"' probe "$@"
