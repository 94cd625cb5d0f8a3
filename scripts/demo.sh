#!/usr/bin/env bash
# Install hookfit into .venv and run the tutorial demo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
cd /tmp && exec "$PY" -m hookfit.demo "$@"
