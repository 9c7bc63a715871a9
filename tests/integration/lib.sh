# shellcheck shell=bash
# What the shell checks of tests/integration share; source it after
# `set -euo pipefail`. Gives WORK, a temporary directory removed at exit;
# PID, the server the script started (stopped with SIGTERM at exit if it is
# still running); and free_port, a free loopback TCP port.
WORK="$(mktemp -d)"
PID=""
cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    # `wait` returns at once for a server the script disowned: poll until it
    # is gone (at most 15 s) before its directory is removed.
    for _ in $(seq 300); do
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.05
    done
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
