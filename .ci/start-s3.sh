# shellcheck shell=bash
# Starts an S3-compatible server (moto) for the bundle store tests. To be *sourced*:
#
#   source .ci/start-s3.sh      # exports TAWTHIQ_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
#
# - Installs `moto[server]` with pip when `moto_server` is missing.
# - Starts `moto_server` on a free port of 127.0.0.1 in the background, logging to a temporary
#   file ($TAWTHIQ_S3_LOG, printed if the server does not come up), waits until it answers, and
#   exports TAWTHIQ_TEST_S3_ENDPOINT. The tests create a fresh bucket each; moto accepts any
#   credentials.
# - Returns non-zero (failing a `set -e` caller) if the server cannot be started.
# - If TAWTHIQ_TEST_S3_ENDPOINT is already set, an external server is used and nothing starts.
#
# Cleanup: the function `tawthiq_stop_s3` stops the server and removes its log. This script
# installs `trap tawthiq_stop_s3 EXIT`; a caller that sets its own EXIT trap afterwards replaces
# it and must call the function from its trap, e.g.
#   trap 'rm -f "$log"; tawthiq_stop_s3' EXIT

tawthiq_stop_s3() {
  if [ -n "${TAWTHIQ_S3_PID:-}" ]; then
    kill "$TAWTHIQ_S3_PID" 2>/dev/null || true
    wait "$TAWTHIQ_S3_PID" 2>/dev/null || true
    TAWTHIQ_S3_PID=
  fi
  if [ -n "${TAWTHIQ_S3_LOG:-}" ]; then
    rm -f "$TAWTHIQ_S3_LOG"
    TAWTHIQ_S3_LOG=
  fi
}

tawthiq_start_s3() {
  if [ -n "${TAWTHIQ_TEST_S3_ENDPOINT:-}" ]; then
    echo "S3: using the server at $TAWTHIQ_TEST_S3_ENDPOINT" >&2
    return 0
  fi
  if ! command -v moto_server >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]' || {
      echo "S3: cannot install moto[server] with pip" >&2
      return 1
    }
    hash -r
    command -v moto_server >/dev/null 2>&1 || {
      echo "S3: moto_server is not on PATH after installing moto[server]" >&2
      return 1
    }
  fi

  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || {
    echo "S3: cannot find a free port" >&2
    return 1
  }
  TAWTHIQ_S3_LOG=$(mktemp "${TMPDIR:-/tmp}/tawthiq-moto.XXXXXX") || return 1
  moto_server -H 127.0.0.1 -p "$port" >"$TAWTHIQ_S3_LOG" 2>&1 &
  TAWTHIQ_S3_PID=$!
  trap tawthiq_stop_s3 EXIT

  local endpoint="http://127.0.0.1:$port" tries=0
  # Up to 30 s: the first start imports a lot of Python.
  until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$endpoint/" >/dev/null 2>&1; do
    if ! kill -0 "$TAWTHIQ_S3_PID" 2>/dev/null; then
      echo "S3: moto_server exited; its log:" >&2
      cat "$TAWTHIQ_S3_LOG" >&2
      tawthiq_stop_s3
      return 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 150 ]; then
      echo "S3: moto_server did not answer on $endpoint within 30 s; its log:" >&2
      cat "$TAWTHIQ_S3_LOG" >&2
      tawthiq_stop_s3
      return 1
    fi
    sleep 0.2
  done
  export TAWTHIQ_TEST_S3_ENDPOINT="$endpoint"
  echo "S3: moto_server (pid $TAWTHIQ_S3_PID) at $TAWTHIQ_TEST_S3_ENDPOINT" >&2
}

tawthiq_start_s3
