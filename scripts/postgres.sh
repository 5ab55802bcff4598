#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster and make a PostGIS test database; print its SQLAlchemy URL.
# Used by `make test` (AGRISENSE_TEST_POSTGRES_URL) and `make serve-postgres`. Safe to run again.
set -euo pipefail
DB=${AGRISENSE_PG_DB:-agrisense_test}
USER_NAME=${AGRISENSE_PG_USER:-agrisense}
PASS=${AGRISENSE_PG_PASSWORD:-agrisense-local-test}
PORT=${AGRISENSE_PG_PORT:-5432}
if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 \+main'; then
  pg_createcluster 15 main --port "$PORT" >/dev/null 2>&1
fi
pg_ctlcluster 15 main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h localhost -p "$PORT" && break
  sleep 1
done
psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -p $PORT $*"; }
if [ "$(psql_su "-c \"select 1 from pg_roles where rolname='$USER_NAME'\"")" != "1" ]; then
  psql_su "-c \"create role $USER_NAME login password '$PASS'\"" >/dev/null
fi
if [ "$(psql_su "-c \"select 1 from pg_database where datname='$DB'\"")" != "1" ]; then
  psql_su "-c \"create database $DB owner $USER_NAME\"" >/dev/null
fi
psql_su "-d $DB -c \"create extension if not exists postgis\"" >/dev/null 2>&1
echo "postgresql+psycopg://$USER_NAME:$PASS@localhost:$PORT/$DB"
