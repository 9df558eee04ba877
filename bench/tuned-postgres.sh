#!/bin/sh
# A second PostgreSQL cluster on this Debian machine with the bureau's server settings
# (deploy/postgresql.conf), for the benches: port 5433, trust on 127.0.0.1, nothing else
# of the machine's own cluster (5432) touched.  Run as root; again to start it after a reboot.
#   sh bench/tuned-postgres.sh
#   POOL_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5433/bench_pool make bench-pool
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(ls /etc/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx bench; then
    pg_createcluster "$version" bench -p 5433 -- --auth=trust >/dev/null
fi
cp "$here/deploy/postgresql.conf" "/etc/postgresql/$version/bench/conf.d/bureau.conf"
pg_ctlcluster --skip-systemctl-redirect "$version" bench restart
psql -h 127.0.0.1 -p 5433 -U postgres -Atc "SHOW shared_buffers"
