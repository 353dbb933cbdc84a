#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server and TAWTHIQ_TEST_POSTGRES pointing at it:
#
#   .ci/start-postgres.sh cargo test --workspace --locked
#
# Design: a wrapper, not a script to source. Debian's `pg_virtualenv` creates a temporary
# cluster, runs one command while the server lives, then stops and drops the cluster whatever
# happens (its own exit trap), so a crashed CI job leaves no server or data directory behind.
# A sourced script would need its own cleanup trap, which would fight `.ci/run`'s EXIT trap.
# `.ci/run` therefore runs its test command through this script.
#
# - Installs Debian `postgresql` (apt-get, noninteractive) when `pg_virtualenv` or a server
#   binary is missing.
# - `pg_virtualenv -t` keeps the cluster in a temporary directory even as root (CI runs as
#   root), so it never touches /etc/postgresql or a cluster named `regress` that exists there;
#   the port is a free one picked here, so a running `main` cluster does not collide.
# - Exports TAWTHIQ_TEST_POSTGRES=postgres://USER:PASSWORD@HOST:PORT/DB built from the
#   PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE that pg_virtualenv sets (the password is random
#   per run and never printed).
# - Exits non-zero, before running the command, when the server cannot be started or does not
#   answer `psql -c 'select 1'`: a missing server fails CI, it is never skipped.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]  (runs COMMAND with TAWTHIQ_TEST_POSTGRES set)" >&2
  exit 2
fi

have_server() {
  command -v pg_virtualenv >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1
}
if ! have_server; then
  echo "start-postgres: installing Debian postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
if ! have_server; then
  echo "start-postgres: pg_virtualenv or the PostgreSQL server is still missing after apt-get install postgresql" >&2
  exit 1
fi

# A free TCP port on localhost (the kernel picks it; the socket is closed before the server binds).
PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PGPORT

# Runs inside pg_virtualenv, with the server up and the PG* variables set.
inner='
set -euo pipefail
if ! psql -q -X -c "select 1" >/dev/null; then
  echo "start-postgres: the temporary PostgreSQL server does not answer on $PGHOST:$PGPORT" >&2
  exit 1
fi
urlencode() {
  local s=$1 out= c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c "%%%02X" "'"'"'$c"; out+=$c ;;
    esac
  done
  printf "%s" "$out"
}
export TAWTHIQ_TEST_POSTGRES="postgres://$(urlencode "$PGUSER"):$(urlencode "$PGPASSWORD")@$PGHOST:$PGPORT/$(urlencode "$PGDATABASE")"
echo "start-postgres: PostgreSQL $PGVERSION on $PGHOST:$PGPORT (user $PGUSER, database $PGDATABASE)" >&2
exec "$@"
'
# max_connections: the conformance suite opens 16 handles at once, while other tests run.
exec pg_virtualenv -t -o max_connections=300 bash -c "$inner" start-postgres "$@"
