# Marketing dashboard: orders CSV -> Spark -> PostgreSQL (raw -> dwh -> mrt) -> Streamlit.
# `make help` lists the targets. Prerequisites: Python 3.11 and Java 17+.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE := data/orders_sample.csv
SAMPLE_ROWS := 25000
COMPOSE_ENV := .data/docker-postgres.env

.DEFAULT_GOAL := help
.PHONY: help venv run elt test app bench sample db pg_stop pg_up pg_down clean

help: ## List the targets
	@grep -E '^[a-z_]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-9s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv/ with the pinned dependencies (runtime and tests)

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 (or run make PYTHON=python3.x)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install Java 17 or newer (Spark needs it)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

run: venv $(SAMPLE) ## Everything for a newcomer: venv, database, ELT on the sample if nothing is published, the app
	@$(PY) -m elt db start
	@$(PY) -m elt db published || $(PY) -m elt run --input $(SAMPLE)
	@echo "Starting the dashboard on http://127.0.0.1:8501 (Ctrl+C to stop)"
	@$(MAKE) --no-print-directory app

elt: venv ## Run the ELT once (INPUT=path/to/orders.csv, default: the sample)
	@$(PY) -m elt run --input "$${INPUT:-$(SAMPLE)}"  # from the environment: a path with spaces, brackets or quotes stays one argument

test: venv ## Run the whole test suite (real Spark, real PostgreSQL)
	$(PY) -m pytest

app: venv ## Start just the dashboard on http://127.0.0.1:8501
	$(PY) -m streamlit run streamlit_app.py --server.address $(or $(APP_ADDRESS),127.0.0.1) --server.port 8501

bench: venv ## Benchmark against the COPY floor and the seed design (ROWS=1000000; 100000 and 10000000 too)
	@test -f /usr/share/java/postgresql.jar || { command -v apt-get >/dev/null && apt-get install -y -qq libpostgresql-jdbc-java >/dev/null; } || echo "no PostgreSQL JDBC jar: the seed baseline will be skipped"
	$(PY) -m benchmarks.bench --rows $(or $(ROWS),1000000)
	$(PY) -m benchmarks.chart

sample: venv ## Regenerate the bundled sample (ROWS=n OUT=path SEED=s to make another)
	$(PY) -m elt sample --rows $(or $(ROWS),$(SAMPLE_ROWS)) --out $(or $(OUT),$(SAMPLE)) --seed $(or $(SEED),42)

$(SAMPLE):
	$(PY) -m elt sample --rows $(SAMPLE_ROWS) --out $(SAMPLE)

db: venv ## Start the embedded PostgreSQL (or check DATABASE_URL) and show how to connect
	@$(PY) -m elt db start

pg_stop: venv ## Stop the embedded PostgreSQL (its data stays in .data/postgres)
	@$(PY) -m elt db stop

pg_up: ## Start PostgreSQL 17 in Docker and print the DATABASE_URL to export
	@mkdir -p .data
	@test -f $(COMPOSE_ENV) || printf 'POSTGRES_USER=marketing\nPOSTGRES_DB=marketing\nPOSTGRES_PASSWORD=%s\nPOSTGRES_PORT=5432\n' "$$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" > $(COMPOSE_ENV)
	docker compose --env-file $(COMPOSE_ENV) up -d --wait
	@. ./$(COMPOSE_ENV) && echo "export DATABASE_URL=postgresql://$$POSTGRES_USER:$$POSTGRES_PASSWORD@127.0.0.1:$$POSTGRES_PORT/$$POSTGRES_DB"

pg_down: ## Stop the Docker PostgreSQL (the named volume keeps the data)
	docker compose --env-file $(COMPOSE_ENV) down

clean: ## Remove the venv, caches and local data (stops the embedded PostgreSQL first)
	-@test -x $(PY) && $(PY) -m elt db stop
	rm -rf $(VENV) .data .pytest_cache spark-warehouse metastore_db derby.log
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
