# Salur developer entry points. Defaults (ports, paths, DSNs) live in infra/env.sh.
#   make up      install, start Kafka + Postgres + services, print where everything runs
#   make demo    make up, then play the channelling story over the public APIs (salur demo)
#   make test    install, start Kafka + Postgres, run pytest against them
#   make down    stop everything (data kept);  make clean  also deletes .data
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ENV := source infra/env.sh
PYTEST_ARGS ?=
MYPY_TARGETS ?= .
S ?=

# pytest, with KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL defaulted to the local servers unless
# the caller set them; exit code 5 ("no tests collected") counts as success.
define run_pytest
$(ENV); ensure_uv; \
export KAFKA_BOOTSTRAP_SERVERS="$${KAFKA_BOOTSTRAP_SERVERS:-$$KAFKA_BOOTSTRAP}"; \
export DATABASE_URL="$${DATABASE_URL:-$$PG_ADMIN_URL}"; \
rc=0; uv run --frozen pytest $(1) $(PYTEST_ARGS) || rc=$$?; \
if [[ $$rc == 5 ]]; then echo "make: pytest collected no tests (exit 5); not a failure"; rc=0; fi; \
exit $$rc
endef

.PHONY: help install infra-up up down clean status logs test test-unit lint fmt bench
.PHONY: kustomize deploy-check demo

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## uv present, workspace synced from uv.lock
	@$(ENV); ensure_uv; uv sync --frozen

infra-up: ## start Kafka (KRaft) and Postgres, create topics, role and databases
	@infra/kafka.sh start
	@infra/postgres.sh start

up: install infra-up ## install + infra + services; prints what runs where
	@infra/services.sh start
	@$(ENV); \
	printf '\n%-12s %s\n' "WHAT" "WHERE"; \
	printf '%-12s %s\n' "kafka" "$$KAFKA_BOOTSTRAP"; \
	printf '%-12s %s\n' "postgres" "$$PG_ADMIN_URL"; \
	while read -r name port _; do \
		[[ -z "$$name" || "$$name" == \#* ]] && continue; \
		printf '%-12s %s\n' "$$name" "http://127.0.0.1:$$port  (docs: http://127.0.0.1:$$port/docs)"; \
	done < "$$SALUR_SERVICES_FILE"

demo: up ## play the channelling story against the running services (salur demo)
	uv run --frozen salur demo

down: ## stop services, Kafka and Postgres (data kept)
	@infra/services.sh stop
	@infra/kafka.sh stop
	@infra/postgres.sh stop

clean: down ## down, then delete .data (all local state)
	rm -rf .data

status: ## what is running: health, relay lag, consumer-group lags (exit 1 if unhealthy)
	@infra/kafka.sh status || true
	@infra/postgres.sh status || true
	@$(ENV); ensure_uv; uv run --frozen --quiet salur status

logs: ## tail every log; one with S=kafka|postgres|<service>
	@case "$(S)" in \
		kafka|postgres) infra/$(S).sh logs ;; \
		"") for c in kafka postgres; do echo "===== $$c ====="; infra/$$c.sh logs; done; \
			infra/services.sh logs ;; \
		*) infra/services.sh logs "$(S)" ;; \
	esac

test: install infra-up kustomize ## all tests against real Kafka and Postgres (PYTEST_ARGS=... to narrow)
	@$(call run_pytest,)

test-unit: install ## unit tests only (-m unit); starts nothing
	@$(call run_pytest,-m unit)

lint: ## ruff check, ruff format --check, mypy (strict)
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .
	uv run --frozen mypy $(MYPY_TARGETS)

fmt: ## ruff fix + format
	uv run --frozen ruff check --fix .
	uv run --frozen ruff format .

kustomize: ## kustomize into .cache/go-bin via the Go module proxy (once; deploy/tools.sh)
	@deploy/tools.sh kustomize >/dev/null

deploy-check: install kustomize ## render every deploy/ overlay and validate it (tests/deploy, offline)
	@$(call run_pytest,tests/deploy -m "not integration")

bench: install ## benchmarks (python -m benchmarks)
	uv run --frozen python -m benchmarks

.PHONY: matching-rebuild
matching-rebuild: install ## matching's state rebuilt from the topics into a new database (DATABASE=name)
	@$(ENV); uv run --frozen python -m salur_matching.rebuild --create \
		--database-url "$${PG_ADMIN_URL%/*}/$${DATABASE:-salur_matching_rebuilt}" \
		--bootstrap "$$KAFKA_BOOTSTRAP"
