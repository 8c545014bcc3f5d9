# The project's commands. `make test` is the test command CI runs (see README.md).
UV ?= uv run --frozen

.PHONY: test lint typecheck imports catalog pytest bench-smoke infra-up infra-down run

test: lint typecheck imports catalog pytest bench-smoke

lint:
	$(UV) ruff check .
	$(UV) ruff format --check .

typecheck:
	$(UV) mypy shared/src

imports:
	$(UV) lint-imports

catalog:
	$(UV) inclusion-kit catalog check

# Integration tests need PostgreSQL and Kafka: eval "$$(deploy/local/up.sh)" first.
pytest:
	$(UV) pytest

bench-smoke:
	$(UV) python bench/bus.py --events 2000 --repeat 1
	$(UV) python bench/attendance_ingest.py --schools 4 --pupils 400

infra-up:
	@bash deploy/local/up.sh

infra-down:
	@bash deploy/local/down.sh
