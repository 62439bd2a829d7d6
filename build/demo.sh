#!/usr/bin/env bash
# The README's first command: sets everything up on a fresh Debian 12
# machine and runs the demo.
#
# Today the demo builds the module and the CLI and shows the PC/SC reader
# slots through libcoolkeypk11.so. As the virtual card and the test TPS land,
# this script grows into the whole story (format, enroll, use the token).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing Debian packages"
./build/install-deps.sh

step "Building libcoolkeypk11.so and coolkey"
cmake -S . -B _build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build _build

step "Starting pcscd with the vpcd virtual reader driver"
./build/pcscd.sh start

step "Listing slots through libcoolkeypk11.so"
pkcs11-tool --module _build/libcoolkeypk11.so -I -L
