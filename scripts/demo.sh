#!/usr/bin/env bash
# Install hookfit into .venv and run the tutorial demo.
set -euo pipefail
# The plot extra lets the demo save its History plot.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "plot"
exec "$PY" -m hookfit.demo "$@"
