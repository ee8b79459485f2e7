#!/usr/bin/env bash
# The marketplace demo; `make demo` runs it.
#
# On a bare Debian bookworm machine: installs the Debian packages it needs
# when they are missing (PostgreSQL 15 and its server headers, pg_cron,
# gnuplot-nox), builds and installs the extension, and runs demo/session.sh
# in a throw-away cluster (pg_virtualenv) with pg_cron and seller_analytics
# preloaded: a marketplace of SCALE sellers (default 2000) streams 90 days
# of events through the ingestion path with concurrent loaders, the cohort
# benchmarks of the closed weeks and months are published, one seller's
# login reads its dashboard and benchmarks, its weekly conversion rate is
# drawn against its cohort (in the terminal, and as a PNG in demo/out/),
# and the run ends with verify_rollups and the figures (ingest rate,
# publication time, the dashboard's latency).  The cluster is removed at
# the end, whatever happens; nothing is left running.
#
# About two minutes at the default scale on 2 cores, with the build.
# Environment: SCALE (sellers), PG_CONFIG (default: PostgreSQL 15's
# pg_config), JOBS (parallel make jobs), and the DEMO_* settings of
# demo/session.sh (DEMO_DAYS, DEMO_SEED, DEMO_LOADERS, ...).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../bench/lib.sh
. "$HERE/../bench/lib.sh"

export DEMO_SELLERS=${SCALE:-${DEMO_SELLERS:-2000}}
start=$(date +%s)

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-$PG_MAJOR-cron" postgresql-common make gcc gnuplot-nox
bench_section "build and install"
bench_build_install
bench_section "the demo, in a throw-away cluster (pg_virtualenv)"
# the server's own pg_cron runs the compaction in database demo, in
# background workers (no connection of its own to authenticate)
pg_virtualenv -t -v "$PG_MAJOR" \
	-o shared_preload_libraries=pg_cron,seller_analytics \
	-o cron.database_name=demo -o cron.use_background_workers=on \
	-o max_worker_processes=16 -o shared_buffers=512MB -o jit=off \
	-o synchronous_commit=off -o max_wal_size=4GB -o checkpoint_timeout=30min \
	env DEMO_DB=demo bash "$HERE/session.sh"
echo
echo "the demo took $(($(date +%s) - start)) s in all; its cluster is gone"
