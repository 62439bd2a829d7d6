#!/usr/bin/env bash
# The README's second command: runs every test on this machine.
# Installs what is missing, builds with CMake, starts pcscd with the vpcd
# reader driver if it is not running, and runs the CTest suites.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

./build/install-deps.sh
cmake -S . -B _build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build _build
./build/pcscd.sh start
ctest --test-dir _build --output-on-failure "$@"
