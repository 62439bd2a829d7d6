#!/usr/bin/env bash
# Installs every Debian package that the build, the demo and the tests need.
# Idempotent: runs apt-get only for packages that are missing, and
# `apt-get update` only when something must be installed.
set -euo pipefail

PACKAGES=(
  # build
  cmake pkg-config gcc make libpcsclite-dev zlib1g-dev
  # PC/SC with the virtual reader driver
  pcscd pcsc-tools vsmartcard-vpcd
  # reference modules (judges) and PKCS#11 tools
  coolkey opensc opensc-pkcs11 softhsm2 p11-kit
  # clients
  libnss3-tools gnutls-bin openssl libengine-pkcs11-openssl
  firefox-esr thunderbird
  # browser tests of the Smart Card Manager UI (ui/uie2e)
  chromium chromium-driver
  # test helpers
  procps psmisc iproute2 ca-certificates
)

# Go is not a Debian package here (bookworm's is too old): it must be
# Go >= 1.26 on PATH or in /usr/local/go.
check_go() {
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  if [ ! -x "$go" ]; then
    echo "install-deps: Go 1.26 or newer is needed (https://go.dev/dl/, unpacked in /usr/local/go)" >&2
    return 1
  fi
  local v
  v=$("$go" env GOVERSION)
  case "$v" in
    go1.2[6-9]*|go1.[3-9][0-9]*|go[2-9]*) ;;
    *) echo "install-deps: $go is $v; Go 1.26 or newer is needed" >&2; return 1 ;;
  esac
}
check_go

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
