#!/usr/bin/env bash
# The README's first command: sets everything up on a fresh Debian 12 machine
# and runs the whole story on the virtual card and the test TPS:
#
#   1. install the Debian packages, build the module and the CLI, start pcscd
#   2. create a blank virtual CoolKey card and insert it in "Virtual PCD 00 00"
#   3. start the test TPS (HTTPS, its own CA)
#   4. `coolkey format` then `coolkey enroll` through the TPS (progress shown)
#   5. use the new token through libcoolkeypk11.so: list, sign, verify
#
# Everything the demo writes stays in _build/demo (the card image, the TPS
# state and the client's configuration); the user's own files are untouched.
# Demo credentials: user "demo", LDAP password "demo-password", new PIN 123456.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$PATH:/usr/local/go/bin"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing Debian packages"
./build/install-deps.sh

step "Building libcoolkeypk11.so and coolkey"
cmake -S . -B _build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build _build
MODULE=$ROOT/_build/libcoolkeypk11.so
COOLKEY=$ROOT/_build/coolkey

step "Starting pcscd with the vpcd virtual reader driver"
./build/pcscd.sh start

DEMO=$ROOT/_build/demo
rm -rf "$DEMO"
mkdir -p "$DEMO/home"
# The client keeps its configuration, trust and diagnostics log under the XDG
# directories; point them into the demo directory.
export XDG_CONFIG_HOME=$DEMO/home/config XDG_STATE_HOME=$DEMO/home/state XDG_CACHE_HOME=$DEMO/home/cache
READER="Virtual PCD 00 00"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

step "Creating a blank virtual card and inserting it in \"$READER\""
"$COOLKEY" sim card new --image "$DEMO/card.json" --state blank
# vpcd's reader slots are shared by everything on this machine that serves a
# virtual card; the lock keeps a concurrent test run out of our slot.
exec 9>/tmp/coolkey-go-vpcd.lock
if ! flock -w 120 9; then
  echo "demo: another program has held the virtual reader for 2 minutes; try again later" >&2
  exit 1
fi
"$COOLKEY" sim card serve --image "$DEMO/card.json" --vpcd 127.0.0.1:35963 >"$DEMO/card.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "card inserted" "$DEMO/card.log" && break
  sleep 0.1
done
cat "$DEMO/card.log"

step "Starting the test TPS"
"$COOLKEY" sim tps serve --listen 127.0.0.1:0 --state "$DEMO/tps" \
  --user demo:demo-password --policy 'RE_ENROLL=YES;RENEW=NO;FORCE_FORMAT=NO;PIN_RESET=YES' \
  >"$DEMO/tps.log" 2>&1 &
pids+=($!)
TPS_URL=""
for _ in $(seq 1 100); do
  TPS_URL=$(grep -oE 'https://[0-9.:]+/tps/tps' "$DEMO/tps.log" | head -n1 || true)
  [ -n "$TPS_URL" ] && break
  sleep 0.1
done
if [ -z "$TPS_URL" ]; then
  echo "demo: the test TPS did not start:" >&2
  cat "$DEMO/tps.log" >&2
  exit 1
fi
echo "TPS at $TPS_URL (trusting its CA $DEMO/tps/ca.pem)"

step "Card status before enrollment"
"$COOLKEY" status --reader "$READER"

export COOLKEY_PASSWORD=demo-password COOLKEY_NEW_PIN=123456
step "coolkey format"
"$COOLKEY" format --reader "$READER" --tps "$TPS_URL" --ca "$DEMO/tps/ca.pem" --uid demo --yes
step "coolkey enroll"
"$COOLKEY" enroll --reader "$READER" --tps "$TPS_URL" --ca "$DEMO/tps/ca.pem" --uid demo --yes
unset COOLKEY_PASSWORD COOLKEY_NEW_PIN

step "Card status after enrollment"
"$COOLKEY" status --reader "$READER"

step "The new token through libcoolkeypk11.so"
pkcs11-tool --module "$MODULE" --list-token-slots
pkcs11-tool --module "$MODULE" --list-objects

step "Signing with the card's signing key (RSA-PSS, SHA-256) and verifying with OpenSSL"
echo "Hello from coolkey-go" >"$DEMO/message.txt"
pkcs11-tool --module "$MODULE" --login --pin 123456 --id 01 --sign \
  --mechanism SHA256-RSA-PKCS-PSS --input-file "$DEMO/message.txt" --output-file "$DEMO/message.sig"
pkcs11-tool --module "$MODULE" --read-object --type cert --id 01 --output-file "$DEMO/signing.der"
openssl x509 -inform der -in "$DEMO/signing.der" -noout -subject -issuer
openssl x509 -inform der -in "$DEMO/signing.der" -noout -pubkey >"$DEMO/signing.pub"
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
  -verify "$DEMO/signing.pub" -signature "$DEMO/message.sig" "$DEMO/message.txt"

cat <<EOF

The card is enrolled and works through $MODULE.

To use it in Firefox: Settings → Privacy & Security → Security Devices → Load,
and choose $MODULE (or, with Firefox closed:
  modutil -dbdir sql:\$HOME/.mozilla/firefox/<profile> -add coolkey-go -libfile $MODULE).
Install system-wide with: cmake --install _build   (then p11-kit and GnuTLS see it too).
To keep the virtual card inserted for Firefox, run:
  $COOLKEY sim card serve --image $DEMO/card.json --vpcd 127.0.0.1:35963
EOF
