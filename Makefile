# 居民医保 Back Office — the commands a newcomer needs.
#   make run    install, migrate, load policies + demo data, start web + worker + beat
#   make test   the whole test suite (embedded PostgreSQL/Redis unless DATABASE_URL/CELERY_BROKER_URL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test bench bench-admin bench-imports bench-renewal bench-roster bench-channel bench-pool stop check clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m config.devstack

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: install
	$(BIN)/python bench/quote.py

# 1,000,000 residents in a scratch database "bench_admin" (DATABASE_URL to choose the server)
bench-admin: install
	$(BIN)/python bench/admin.py --check

# a 100,000-row roster through import_residents, in a scratch database "bench_imports"
bench-imports: install
	$(BIN)/python bench/imports.py

# default renewal of 1,000,000 enrollments: one process, then two Celery workers (target < 60 s),
# in scratch databases "bench_renewal"/"bench_renewal_tpl" and Redis database 10
bench-renewal: install
	$(BIN)/python bench/renewal.py --check

# the channel API (dues, payments) under gunicorn, driven from another process; 100,000 payments
# checked against the database, in a scratch database "bench_channel" (about 15 minutes or more)
bench-channel: install
	$(BIN)/python bench/channel_api.py --check

# a 100,000-row department roster (CSV and XLSX) through import_roster over 1,000,000 residents,
# in a scratch database "bench_roster" (targets: CSV < 10 s, XLSX < 15 s, peak memory < 1 GB)
bench-roster: install
	$(BIN)/python bench/import_roster.py --check

# the December family-pool batch: 1,000,000 members on two workers, the per-member path on 10,000,
# 20 runs killed and resumed; scratch databases "bench_pool"/"bench_pool_tpl", Redis database 11
# (issue 11; see bench/RESULTS.md; BENCH_POOL_ARGS="--members 100000 --networks 40000" for a quick one)
bench-pool: install
	DATABASE_URL=$${POOL_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench_pool} $(BIN)/python bench/pool_batch.py --check $(BENCH_POOL_ARGS)

stop:
	$(BIN)/python -m config.embedded stop

clean: stop
	rm -rf var
