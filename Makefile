# The project's commands. `make test` is the test command CI runs (see README.md).
UV ?= uv run --frozen

.PHONY: test lint typecheck imports catalog pytest e2e bench-smoke audit infra-up infra-down run

test: lint typecheck imports catalog pytest e2e bench-smoke

lint:
	$(UV) ruff check .
	$(UV) ruff format --check .

typecheck:
	$(UV) mypy shared/src services/referral-api/src services/cme-tracker/src services/exclusions/src services/enforcement/src services/reporting/src \
		services/portal/src

imports:
	$(UV) lint-imports

# The committed catalogue is what the registry builds, and no contract breaks its subscribers:
# compared with where this branch left main (a pull request) or with the parent commit (main).
catalog:
	$(UV) inclusion docs --check
	$(UV) inclusion-kit catalog check
	@base=$$(git merge-base HEAD origin/main 2>/dev/null); \
	if [ -z "$$base" ] || [ "$$base" = "$$(git rev-parse HEAD)" ]; then base=$$(git rev-parse -q --verify HEAD^ 2>/dev/null); fi; \
	if [ -n "$$base" ]; then $(UV) inclusion-kit catalog compat --baseline $$base; \
	else echo "catalog compat: no earlier commit in this clone to compare with (shallow clone?)"; fi

# Integration tests need PostgreSQL and Kafka: eval "$$(deploy/local/up.sh)" first.
# The kit and cross-service tests in one process, then one process per service (each service's
# tests are a package named `tests`); every run happens, and the target fails if any failed.
SERVICE_TESTS := $(wildcard services/*/tests)
pytest:
	@status=0; \
	$(UV) pytest --ignore=tests/e2e || status=1; \
	for dir in $(SERVICE_TESTS); do $(UV) pytest $$dir || status=1; done; \
	exit $$status

# The portal in a real browser (Debian's chromium, axe-core from npm), in its own process: the
# browser tests drive Playwright, which wants its own event loop. The committed front-end assets
# must be what a fresh build of the pinned npm packages gives.
e2e:
	npm --prefix services/portal run check
	$(UV) pytest tests/e2e

bench-smoke:
	$(UV) python bench/bus.py --events 2000 --repeat 1
	$(UV) python bench/attendance_ingest.py --schools 4 --pupils 400
	$(UV) python bench/event_latency.py --referrals 30 --rate 20
	$(UV) python bench/attendance_positions.py --schools 4 --pupils 400
	$(UV) python bench/reports.py --schools 12 --pupils 2000 --requests 20
	$(UV) python bench/soak.py --minutes 0.5 --schools 20 --pupils 4000

# Known vulnerabilities in the locked dependencies (pip-audit; fails when it could not look them up).
audit:
	bash tools/audit-deps.sh

infra-up:
	@bash deploy/local/up.sh

infra-down:
	@bash deploy/local/down.sh
