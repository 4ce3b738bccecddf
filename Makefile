# mcpwarm: `make bench` runs the benchmark suite, `make test` the tests. Both do their own set-up.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
CLI := node dist/harness/cli/main.js
BENCH_ARGS ?=
KIND_BENCH_ARGS ?=

.PHONY: setup system-packages build typecheck services test bench bench-ci kind-up kind-bench kind-down clean

setup: $(NODE_MODULES_STAMP) system-packages

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

system-packages:
	@harness/cluster/install-system-packages.sh

build: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json
	@chmod +x dist/harness/cli/main.js

# Type-checks the tests too (the build leaves them out of dist/).
typecheck: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.check.json

# The Docker engine the docker substrate's tests and the Docker cold start use (started if none answers).
services: build
	$(CLI) docker up

test: setup build typecheck services
	npx vitest run

bench: setup build services
	$(CLI) bench image $(BENCH_ARGS)
	$(CLI) bench activation $(BENCH_ARGS)
	$(CLI) bench pool
	$(CLI) bench strategies

# The quick profile and the gate on activation time against the committed baseline. The two runs
# come from different machines, so the tolerance is wide; `mcpwarm gate --base-rev REV` runs the
# base revision side by side on one machine for a tight comparison.
bench-ci: setup build
	$(CLI) bench activation --runs 6 --servers fixture
	$(CLI) gate --baseline reports/baseline.json --candidate reports/latest/results.json --metric fixture/warm:p50 --tolerance 1.0

kind-up: setup build
	$(CLI) kind up

# The kind scenarios against the cluster `make kind-up` made; fails at once (TOOL_MISSING) without docker, kind or kubectl.
kind-bench: build
	$(CLI) kind check
	$(CLI) bench run scenarios/kind/cold-vs-warm.scenario.yaml $(KIND_BENCH_ARGS)
	$(CLI) bench run scenarios/kind/stdio-strategies.scenario.yaml $(KIND_BENCH_ARGS)

kind-down: build
	$(CLI) kind down

clean:
	rm -rf dist reports/runs reports/latest
