# Slipway's developer commands. `make help` lists them.
SHELL := /bin/bash
GO ?= go
export GOFLAGS := -buildvcs=false

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install what the tests need (git via apt-get when missing; Go modules via the proxy)
	@./scripts/ensure-deps.sh
	$(GO) mod download

build: ## build bin/slipway
	$(GO) build -o bin/slipway ./cmd/slipway

test: deps ## the whole suite, as CI runs it: vet, generated-code check, unit + end-to-end tests with the race detector
	$(GO) vet ./...
	$(MAKE) --no-print-directory check-generated
	SLIPWAY_KUBE_BIN="$$(./scripts/kube-bin.sh)" && export SLIPWAY_KUBE_BIN && \
		$(GO) run ./internal/pgtest/withpostgres -- $(GO) test -race -count=1 -timeout 30m ./...

kube-bin: ## build the tests' Kubernetes control plane (etcd, kube-apiserver, -controller-manager, -scheduler, kwok; tools/kube) into its cache, and print the directory
	@./scripts/kube-bin.sh

test/crash: ## the whole crash matrix: 200 deployments on each store with the server killed at random moments (make test runs a sample of 16 and 8; SLIPWAY_CRASH_SEED replays a run)
	$(GO) run ./internal/pgtest/withpostgres -- env SLIPWAY_CRASH_DEPLOYMENTS=$${SLIPWAY_CRASH_DEPLOYMENTS:-200} $(GO) test -race -count=1 -timeout 3h -run 'TestCrashMatrix' -v ./cmd/slipway/

test/scripts-race: ## the end-to-end scripts and a crash sample with the race-instrumented test binary as `slipway` (make test runs them on the binary users run)
	$(GO) run ./internal/pgtest/withpostgres -- env SLIPWAY_SCRIPT_BINARY=test $(GO) test -race -count=1 -timeout 1h -run 'TestScript|TestCrashMatrix' ./cmd/slipway/

test/history: ## history outlives pruning: 200 real deployments of one tool, 5 kept, every release and is-live answer checked (make test runs 40)
	$(GO) run ./internal/pgtest/withpostgres -- env SLIPWAY_HISTORY_DEPLOYMENTS=$${SLIPWAY_HISTORY_DEPLOYMENTS:-200} $(GO) test -race -count=1 -timeout 1h -run 'TestEngine_HistorySurvives' -v ./internal/deploy/

test/short: ## unit tests only, no race detector
	$(GO) test -short ./...

bench: ## benchmarks (planner, runner, sandbox start, sandboxed build, surge switch), the deployment scripts against their baselines, 1,000 idle tools on one host
	$(GO) test -run '^$$' -bench . -benchmem ./internal/deploy/ ./internal/runner/ ./internal/sandbox/ ./internal/build/localbuild/ ./internal/target/localexec/
	./bench/deploy-overhead.sh
	./bench/engine.sh
	./bench/scale-tools.sh 1000
	$(MAKE) --no-print-directory bench/stores
	$(MAKE) --no-print-directory bench/ui

bench/scale-tools: ## many tools on one host: N (default 1,000; SCALE_TOOLS=10000) idle sandboxed tools deployed, then server RSS, idle CPU, per-tool cost, read p99 at 1,000/s, data directory size
	./bench/scale-tools.sh $${SCALE_TOOLS:-1000}

bench/push: ## push-to-live: a commit of a small Python app to its new version answering through the proxy, with requests flowing (failures counted), and where the time goes
	./bench/push-to-live.sh

bench/ui: ## the web UI: a 200-component deployment page against the JSON API's answer for it, a live step update's size, the step graph's layout
	$(GO) test -run '^$$' -bench . -benchmem ./internal/web/ ./internal/web/dagsvg/

bench/proxy: ## the front door: 2,000 requests/s over 50 published tools for 10 s, p50/p99 through the proxy against the apps directly, and the errors
	./bench/proxy.sh

bench/stores: ## SQLite against PostgreSQL: API create throughput and show latency, deployment list in a big installation (a tenth of bench/scale)
	$(GO) run ./internal/pgtest/withpostgres -- $(GO) test -run '^$$' -bench 'BenchmarkAPI|BenchmarkDeploymentList' -benchtime 300x ./internal/server/ ./internal/deploy/

bench/kube: ## the Kubernetes target on the tests' control plane: 500 components of 50 tools applied, then again unchanged (API reads and writes counted), against kubectl apply --server-side of the same objects (kubectl on the PATH, or $KUBECTL)
	SLIPWAY_KUBE_BIN="$$(./scripts/kube-bin.sh)" && export SLIPWAY_KUBE_BIN && \
		$(GO) test -run '^$$' -bench BenchmarkApply -benchtime 1x -timeout 30m ./internal/target/kube/
bench/replicas: ## deployments through 1 and then 2 servers on one PostgreSQL database and one Kubernetes test cluster (kwok): API create rate and deployments to final per second, one run (SLIPWAY_BENCH_REPLICAS_TOOLS, default 40)
	SLIPWAY_KUBE_BIN="$$(./scripts/kube-bin.sh)" && export SLIPWAY_KUBE_BIN && \
		$(GO) run ./internal/pgtest/withpostgres -- $(GO) test -run '^$$' -bench BenchmarkReplicas -benchtime 1x -timeout 20m ./internal/server/

bench/releases: ## release tracking: "is commit X in what runs?", merged or cherry-picked, and release notes, on a generated 100,000-commit history, uncached and cached (SLIPWAY_BENCH_COMMITS sets the length); what release writes add to a deployment, on both stores
	$(GO) test -run '^$$' -bench 'BenchmarkContains|BenchmarkCherryPick|BenchmarkNotes' -benchtime 10x -timeout 20m ./internal/git/
	$(GO) run ./internal/pgtest/withpostgres -- sh -c "$(GO) test -run '^$$' -bench BenchmarkReleaseWrites -benchtime 40x -timeout 20m ./internal/deploy/ && $(GO) test -run '^$$' -bench BenchmarkReleaseAppend -benchtime 2000x ./internal/deploy/"

bench/scale: ## deployment list with 10,000 tools × 5 components and 1,000,000 deployments, on both stores (seeding takes minutes)
	SLIPWAY_BENCH_SCALE=full $(GO) run ./internal/pgtest/withpostgres -- $(GO) test -run '^$$' -bench 'BenchmarkDeploymentList' -benchtime 1000x -timeout 2h ./internal/deploy/

generate: ## regenerate code from api/openapi.yaml (Go server and client; Python and TypeScript clients, internal/clientgen)
	$(GO) generate ./...

GENERATED := internal/httpapi/oapi internal/apiclient/oapiclient clients/python/slipway_client clients/typescript/src

check-generated: ## fail when generated code (Go server and client, Python and TypeScript clients) is out of date
	@$(GO) generate ./... && git diff --exit-code -- $(GENERATED) && test -z "$$(git ls-files --others --exclude-standard -- $(GENERATED))" || { echo "generated code is out of date: run make generate and commit"; git ls-files --others --exclude-standard -- $(GENERATED); exit 1; }

bin/golangci-lint: tools/go.mod
	cd tools && $(GO) build -o ../bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: bin/golangci-lint ## golangci-lint with .golangci.yaml
	./bin/golangci-lint run ./...

tidy: ## go mod tidy both modules
	$(GO) mod tidy
	cd tools && $(GO) mod tidy

.PHONY: help deps build test kube-bin test/crash test/history test/short bench bench/proxy bench/stores bench/ui bench/kube bench/replicas bench/releases bench/scale generate check-generated lint tidy
