# Vane — make help lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
SWAG  := $(BIN)/swag
SWAG_VERSION := v1.16.6
GOLANGCI_VERSION := v2.6.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TEST_FLAGS ?= -race -count=1 -timeout 15m

.PHONY: help run build js-deps test test-postgres lint fmt fmt-check vet swagger swagger-check migrate bench up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

run: ## run the server on the embedded defaults (SQLite in ./data, in-process Redis)
	$(GO) run -ldflags "-X main.version=$(VERSION)" ./cmd/vane serve

build: ## build bin/vane (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/vane ./cmd/vane

js-deps: ## install the pinned OpenFeature JavaScript provider the OFREP compatibility test runs (needs npm)
	@if command -v npm >/dev/null 2>&1; then cd sdk/js-compat && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the JavaScript OFREP compatibility test will be skipped"; fi

test: js-deps ## run every test (embedded defaults; TEST_DATABASE_URL / TEST_REDIS_URL switch to real services)
	$(GO) test $(TEST_FLAGS) ./...

test-postgres: js-deps ## run every test against local Postgres and Redis (127.0.0.1:5432, :6379)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vane_test?sslmode=disable} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(GO) test $(TEST_FLAGS) ./...

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

fmt-check: ## fail when gofmt would change something
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

GOLANGCI := $(BIN)/golangci-lint
$(GOLANGCI):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: fmt-check vet $(GOLANGCI) ## gofmt check, go vet and golangci-lint (.golangci.yml)
	$(GOLANGCI) run ./...

$(SWAG):
	GOBIN=$(BIN) $(GO) install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)

swagger: $(SWAG) ## regenerate docs/ from the swag annotations
	$(SWAG) fmt -d ./api
	$(SWAG) init --quiet -g router.go -d ./api,./internal/errs,./internal/engine,./services --parseInternal -o docs --outputTypes go,json,yaml

swagger-check: swagger ## regenerate docs/ and fail if it changed
	@git diff --exit-code --stat -- docs api || (echo "docs/ is stale: run make swagger and commit" && exit 1)
	@test -z "$$(git status --porcelain -- docs)" || (echo "docs/ has untracked changes: run make swagger and commit" && exit 1)

migrate: ## apply migrations to DATABASE_URL (or the embedded SQLite database)
	$(GO) run ./cmd/vane migrate up

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

up: ## docker compose up (api + worker + postgres + redis)
	docker compose up --build -d

down: ## docker compose down
	docker compose down

clean: ## remove build output and the embedded database
	rm -rf $(BIN) ./data
