#!/bin/sh
# The entrypoint of the fivestar-postgres image. On the first start (no
# $PGDATA/PG_VERSION) it makes the cluster: initdb (UTF-8, C locale,
# scram-sha-256 for TCP, peer for the local socket), then, on a server
# listening on the socket only, the role $FIVESTAR_DB_USER (default
# fivestar) with the password read from $FIVESTAR_DB_PASSWORD_FILE and the
# databases registry, projects and scoring it owns (the services make their
# own tables at start-up). Every start then runs the server on all
# interfaces, replacing this shell (exec), so the engine's stop signal
# reaches it. Extra arguments go to postgres (e.g. -c max_connections=200).
set -eu
: "${PGDATA:?}"
user="${FIVESTAR_DB_USER:-fivestar}"
password_file="${FIVESTAR_DB_PASSWORD_FILE:?}"
socket_dir=/tmp
# The first start's own server listens on a socket elsewhere, so that
# pg_isready (the health checks) says "accepting" only once the real one runs.
init_socket_dir=/tmp/fivestar-postgres-init

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ ! -s "$password_file" ]; then
    echo "fivestar-postgres: $password_file is missing or empty: give the" \
      "services' password as a secret file (FIVESTAR_DB_PASSWORD_FILE)" >&2
    exit 1
  fi
  echo "fivestar-postgres: initdb $PGDATA"
  initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  cat >"$PGDATA/pg_hba.conf" <<HBA
# fivestar-postgres: the superuser only through the socket (peer); everyone
# else by password over TCP.
local all postgres           peer
host  all all      0.0.0.0/0 scram-sha-256
host  all all      ::/0      scram-sha-256
HBA
  mkdir -p -m 0700 "$init_socket_dir"
  pg_ctl --pgdata="$PGDATA" --wait --silent \
    -o "-c listen_addresses='' -c unix_socket_directories=$init_socket_dir" start
  # The password reaches psql through a file, never a command line.
  psql --host="$init_socket_dir" --username=postgres --dbname=postgres --quiet \
    --no-psqlrc -v ON_ERROR_STOP=1 -v user="$user" <<'SQL'
\set password `cat "$FIVESTAR_DB_PASSWORD_FILE"`
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE registry OWNER :"user";
CREATE DATABASE projects OWNER :"user";
CREATE DATABASE scoring OWNER :"user";
SQL
  pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
  rmdir "$init_socket_dir"
  echo "fivestar-postgres: role $user and databases registry, projects, scoring created"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' \
  -c unix_socket_directories="$socket_dir" "$@"
