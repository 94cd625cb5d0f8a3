#!/usr/bin/env bash
# Install hookfit with its test extras into .venv (or .venv-sanitize when
# HOOKFIT_BUILD=sanitize) and run the test suite against the installed package.
# Extra arguments go to pytest.
set -euo pipefail
# The release build runs everything; the sanitizer build skips the large
# optional extras (Keras, jax, TensorBoard: not built with ASan) but keeps
# h5py, so that hookfit's HDF5 file code also runs under the sanitizers.
extras=test-full
[ "${HOOKFIT_BUILD:-release}" = sanitize ] && extras=test,h5
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "$extras"
cd "$root"
if [ "$build" = sanitize ]; then
  # The interpreter is not instrumented, so the sanitizer runtimes are
  # preloaded; CPython's own allocations would swamp leak reports.
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
exec "$PY" -m pytest "$@"
