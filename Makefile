# Vane — make help lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
SWAG  := $(BIN)/swag
SWAG_VERSION := v1.16.6
GOLANGCI_VERSION := v2.6.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TEST_FLAGS ?= -race -count=1 -timeout 25m

.PHONY: help run build js-deps sdk-js web-deps web-test web-build web-check portal-perf test test-postgres lint fmt fmt-check vet swagger swagger-check migrate bench up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

run: ## run the server on the embedded defaults (SQLite in ./data, in-process Redis) with the portal
	@echo "Vane: API and portal at http://localhost:8000/ ; portal at http://localhost:3000/ (sign in with the password logged on first start)"
	$(GO) run -ldflags "-X main.version=$(VERSION)" ./cmd/vane serve

build: ## build bin/vane (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/vane ./cmd/vane

js-deps: ## install the pinned OpenFeature JavaScript provider the OFREP compatibility test runs (needs npm)
	@if command -v npm >/dev/null 2>&1; then cd sdk/js-compat && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the JavaScript OFREP compatibility test will be skipped"; fi

sdk-js: ## build the JavaScript SDK (sdk/js: npm ci, tsc to ESM + CommonJS) its Go-run tests need
	@if command -v npm >/dev/null 2>&1; then cd sdk/js && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent; \
	elif [ "$${VANE_REQUIRE_JS:-}" = 1 ]; then echo "npm not found and VANE_REQUIRE_JS=1"; exit 1; else echo "npm not found: the JavaScript SDK's tests will be skipped"; fi

# The portal (web/): npm is needed only to change it; its built dist/ is committed and embedded.
# Without npm these targets skip, unless VANE_REQUIRE_JS=1 (CI) makes them fail.

web-deps: ## install the portal's pinned npm packages (web/node_modules)
	@if command -v npm >/dev/null 2>&1; then cd web && npm ci --no-audit --no-fund --loglevel=error; \
	elif [ "$${VANE_REQUIRE_JS:-}" = 1 ]; then echo "npm not found and VANE_REQUIRE_JS=1"; exit 1; else echo "npm not found: the portal's npm steps are skipped"; fi

web-test: web-deps ## run the portal's vitest tests
	@if command -v npm >/dev/null 2>&1; then cd web && npm test --silent; \
	elif [ "$${VANE_REQUIRE_JS:-}" = 1 ]; then exit 1; else echo "npm not found: the portal's vitest tests are skipped"; fi

web-build: web-deps ## build the portal into web/dist (byte-reproducible; commit the result)
	@if command -v npm >/dev/null 2>&1; then cd web && npm run build --silent; \
	elif [ "$${VANE_REQUIRE_JS:-}" = 1 ]; then exit 1; else echo "npm not found: web/dist not rebuilt"; fi

web-check: web-deps ## rebuild web/dist and the API types and fail if either differs from what is committed
	@if command -v npm >/dev/null 2>&1; then cd web && npm run gen:api --silent && npm run build --silent; \
	elif [ "$${VANE_REQUIRE_JS:-}" = 1 ]; then exit 1; else echo "npm not found: web-check skipped"; exit 0; fi
	@git diff --exit-code --stat -- web/src/api/schema.d.ts || (echo "web/src/api/schema.d.ts is stale: run make web-check (npm run gen:api) and commit" && exit 1)
	@git diff --exit-code --stat -- web/dist || (echo "web/dist is stale: run make web-build and commit" && exit 1)
	@test -z "$$(git status --porcelain -- web/dist web/src/api)" || (echo "web/dist has untracked changes: run make web-build and commit" && exit 1)

portal-perf: ## measure the portal in headless Chromium: 5 000-flag list and a search keystroke (figures logged)
	VANE_PORTAL_PERF=1 $(GO) test -count=1 -v -run TestFlagListPerformance ./web/browser | grep -E 'perf_test|ok|FAIL|SKIP'

SDK_MODULES := sdk/go sdk/go/provider

test: js-deps sdk-js web-test ## run every test: Go (browser tests need chromium, else skip; VANE_REQUIRE_BROWSER=1 fails; the JS and Python SDKs run from api/), the SDK modules and the portal's vitest
	$(GO) test $(TEST_FLAGS) ./...
	@for m in $(SDK_MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(TEST_FLAGS) ./...) || exit 1; done

test-postgres: js-deps sdk-js ## run every test against local Postgres and Redis (127.0.0.1:5432, :6379)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vane_test?sslmode=disable} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(GO) test $(TEST_FLAGS) ./...
	@for m in $(SDK_MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(TEST_FLAGS) ./...) || exit 1; done

vet: ## go vet (the SDK modules too)
	$(GO) vet ./...
	@for m in $(SDK_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

fmt-check: ## fail when gofmt would change something
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

GOLANGCI := $(BIN)/golangci-lint
$(GOLANGCI):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: fmt-check vet $(GOLANGCI) ## gofmt check, go vet and golangci-lint (.golangci.yml), the SDK modules too
	$(GOLANGCI) run ./...
	@for m in $(SDK_MODULES); do echo "== $$m"; (cd $$m && $(GOLANGCI) run ./...) || exit 1; done

$(SWAG):
	GOBIN=$(BIN) $(GO) install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)

swagger: $(SWAG) ## regenerate docs/ from the swag annotations
	$(SWAG) fmt -d ./api
	$(SWAG) init --quiet -g router.go -d ./api,./internal/errs,./sdk/go,./sdk/go/engine,./services,./dataplane --parseInternal -o docs --outputTypes go,json,yaml

swagger-check: swagger ## regenerate docs/ and fail if it changed
	@git diff --exit-code --stat -- docs api || (echo "docs/ is stale: run make swagger and commit" && exit 1)
	@test -z "$$(git status --porcelain -- docs)" || (echo "docs/ has untracked changes: run make swagger and commit" && exit 1)

migrate: ## apply migrations to DATABASE_URL (or the embedded SQLite database)
	$(GO) run ./cmd/vane migrate up

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for m in $(SDK_MODULES); do (cd $$m && $(GO) test -run "^$$" -bench . -benchmem ./...) || exit 1; done

up: ## docker compose up (api + worker + postgres + redis)
	docker compose up --build -d

down: ## docker compose down
	docker compose down

clean: ## remove build output and the embedded database
	rm -rf $(BIN) ./data
