# Shared set-up for scripts/demo.sh and scripts/test.sh: make a virtual
# environment and install hookfit into it from this checkout.
#   HOOKFIT_BUILD=release  (default) the wheel as users get it
#   HOOKFIT_BUILD=sanitize a debug build with AddressSanitizer + UBSan
# Usage: source scripts/_venv.sh "<extras>"   (e.g. "test")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${HOOKFIT_BUILD:-release}"
case "$build" in
  release)  venv="$root/.venv";          cmake_args=() ;;
  sanitize) venv="$root/.venv-sanitize"; cmake_args=(-Ccmake.define.HOOKFIT_SANITIZE=ON -Ccmake.build-type=Debug) ;;
  *) echo "HOOKFIT_BUILD must be 'release' or 'sanitize', not '$build'" >&2; exit 2 ;;
esac
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
extras="${1:-}"
target="$root"
[ -n "$extras" ] && target="$root[$extras]"
# A fixed build directory per flavour keeps rebuilds incremental.
"$venv/bin/python" -m pip install --quiet \
  -Cbuild-dir="$root/build/$build" "${cmake_args[@]}" "$target"
PY="$venv/bin/python"
