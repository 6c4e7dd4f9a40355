#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL server for the tests, on 127.0.0.1:${GAVEL_PG_PORT},
# with trust authentication for the `gavel` role on loopback only. Prints nothing on success
# but the URL the tests use. Idempotent.
set -euo pipefail

PORT="${GAVEL_PG_PORT:-54329}"
DATA="${GAVEL_PG_DATA:-/var/tmp/gavel-test-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$BIN" ]; then
  echo "test-postgres: PostgreSQL is not installed (run scripts/setup-system.sh)" >&2
  exit 1
fi

RUNUSER="$(command -v runuser || echo /usr/sbin/runuser)"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then "$RUNUSER" -u postgres -- "$@"; else "$@"; fi
}

if [ ! -f "$DATA/PG_VERSION" ]; then
  mkdir -p "$DATA"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DATA"; fi
  as_pg "$BIN/initdb" -D "$DATA" -U gavel -A trust -E UTF8 --locale=C --no-sync >/dev/null
fi

if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$DATA/server.log" \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
    start >/dev/null
fi

# Drop databases left by earlier test runs.
for db in $(as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U gavel -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'gavel_test_%'"); do
  as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U gavel -d postgres -qc "DROP DATABASE \"$db\"" >/dev/null
done

echo "postgres://gavel@127.0.0.1:$PORT/postgres"
