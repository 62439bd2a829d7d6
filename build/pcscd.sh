#!/usr/bin/env bash
# Starts pcscd with the vsmartcard vpcd reader driver when it is not already
# running, and stops only a pcscd that this script started.
#
#   build/pcscd.sh start    start (no-op if a pcscd is already running)
#   build/pcscd.sh stop     stop the pcscd we started, if any
#   build/pcscd.sh status   print whether pcscd runs and who started it
#
# The vpcd driver listens on 127.0.0.1:35963 ("Virtual PCD 00 00") and :35964
# ("Virtual PCD 00 01"); a virtual card connects there (`coolkey sim card serve --vpcd`).
set -euo pipefail

STATE_DIR="${COOLKEY_RUN_DIR:-/run/coolkey-go}"
MARKER="$STATE_DIR/pcscd.started-by-us"
LOG="$STATE_DIR/pcscd.log"

running_pid() { pgrep -x pcscd | head -n1 || true; }

wait_for_socket() {
  for _ in $(seq 1 50); do
    if [ -S /run/pcscd/pcscd.comm ] && [ -n "$(running_pid)" ]; then return 0; fi
    sleep 0.1
  done
  echo "pcscd.sh: pcscd did not come up; see $LOG" >&2
  return 1
}

# stop_pid ends pcscd pid: SIGTERM, five seconds, then SIGKILL.
stop_pid() {
  kill -0 "$1" 2>/dev/null || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

case "${1:-start}" in
start)
  if [ -n "$(running_pid)" ]; then
    echo "pcscd.sh: pcscd already running (pid $(running_pid))"
    exit 0
  fi
  if [ ! -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ]; then
    echo "pcscd.sh: the vpcd driver is missing; run build/install-deps.sh" >&2
    exit 1
  fi
  mkdir -p "$STATE_DIR"
  # A stale socket from a killed pcscd makes clients hang; it is safe to
  # remove because no pcscd runs.
  rm -f /run/pcscd/pcscd.comm
  # Foreground mode under setsid keeps pcscd's log in our file and lets us
  # know its pid for sure. vpcd binds its ports without SO_REUSEADDR, so right after an earlier
  # pcscd's connections closed (TIME_WAIT, up to a minute) its bind fails and
  # pcscd runs with no virtual reader at all. Detect that and try again.
  for attempt in $(seq 1 10); do
    setsid pcscd --foreground --error </dev/null >"$LOG" 2>&1 &
    echo $! >"$MARKER"
    wait_for_socket
    sleep 0.3
    if ! grep -q "Could not initialize connection to virtual ICC" "$LOG"; then
      echo "pcscd.sh: started pcscd (pid $(cat "$MARKER"))"
      exit 0
    fi
    echo "pcscd.sh: vpcd could not bind its port (attempt $attempt); retrying in 10 s" >&2
    stop_pid "$(cat "$MARKER")"
    rm -f /run/pcscd/pcscd.comm
    sleep 10
  done
  echo "pcscd.sh: vpcd never got its ports; see $LOG" >&2
  exit 1
  ;;
stop)
  if [ -f "$MARKER" ]; then
    pid=$(cat "$MARKER")
    stop_pid "$pid"
    rm -f "$MARKER"
    echo "pcscd.sh: stopped pcscd (pid $pid)"
  else
    echo "pcscd.sh: no pcscd started by us; leaving any other alone"
  fi
  ;;
status)
  pid=$(running_pid)
  if [ -z "$pid" ]; then echo "pcscd: not running"; exit 1; fi
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$pid" ]; then
    echo "pcscd: running (pid $pid, started by build/pcscd.sh)"
  else
    echo "pcscd: running (pid $pid, not ours)"
  fi
  ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
