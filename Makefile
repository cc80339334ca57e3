# weir's two commands: `make run` (try it) and `make test` (the whole suite).

SHELL := /bin/bash
GO ?= go
BIN := bin/weir
CONFIG ?= examples/weir.yaml
DEMO_LISTEN ?= 127.0.0.1:9000

.PHONY: all build run test vet fmt-check cachetests-deps bench bench-micro clean lab

all: build

build:
	$(GO) build -o $(BIN) ./cmd/weir

# Starts the demo backend and the gateway. Both start as background jobs in
# their own process groups (set -m), so Ctrl-C reaches only this shell, whose
# trap sends exactly one SIGTERM to each and waits for them to finish (the
# gateway drains; a second Ctrl-C kills). If either exits by itself (say, a
# port in use), the other is stopped too: no orphan is left either way.
run: build
	@pids=""; \
	stop() { \
		trap 'kill -KILL $$pids 2>/dev/null' INT TERM; trap - EXIT; \
		kill -TERM $$pids 2>/dev/null; \
		for p in $$pids; do while kill -0 $$p 2>/dev/null; do wait $$p; done; done; \
	}; \
	trap 'stop; exit 130' INT; \
	trap 'stop; exit 143' TERM; \
	trap 'stop' EXIT; \
	set -m; \
	$(BIN) demo-backend -listen $(DEMO_LISTEN) & pids="$$!"; \
	$(BIN) run -c $(CONFIG) & pids="$$pids $$!"; \
	set +m; \
	wait -n $$pids; status=$$?; \
	stop; \
	exit $$status

# The bench package (TestSuiteShort: the benchmark suite's smoke run, about a
# minute of load on every core) and the lab package (TestLab: the
# port-exhaustion lab, ~80 s of heavy network load) run after the rest, each
# alone, so they do not starve other packages' tests running beside them.
test: vet fmt-check cachetests-deps
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v -e '/lab$$' -e '/bench$$')
	$(GO) test -race -count=1 -timeout 15m ./bench
	$(GO) test -race -count=1 -timeout 15m ./lab

vet:
	$(GO) vet ./...

# The HTTP caching test suite (test/cachetests, TestHTTPCacheTests) runs the
# npm package http-cache-tests, pinned by its package-lock.json: installed
# with `npm ci` when npm is present and the installed copy is missing or
# older than the lock, so `make test` runs what CI runs. Without npm (or if
# the install fails) it says so and the suite skips (under CI=true it fails).
CACHETESTS_DIR ?= test/cachetests
cachetests-deps:
	@if ! command -v npm >/dev/null 2>&1; then 		echo "npm not found: the HTTP caching test suite ($(CACHETESTS_DIR)) will be skipped; install nodejs and npm to run it"; 	elif [ ! "$(CACHETESTS_DIR)/node_modules/.package-lock.json" -nt "$(CACHETESTS_DIR)/package-lock.json" ]; then 		echo "installing the HTTP caching test suite: npm ci in $(CACHETESTS_DIR)"; 		(cd "$(CACHETESTS_DIR)" && npm ci --no-audit --no-fund --loglevel=error) || 			echo "npm ci failed: the HTTP caching test suite ($(CACHETESTS_DIR)) will be skipped"; 	fi

# Lists unformatted Go files and fails if there are any. testdata may hold
# deliberately broken Go.
fmt-check:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print); \
	bad=$$([ -z "$$files" ] || gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi

# The benchmark suite against nginx, HAProxy and Caddy (bench/README.md):
# about 15 minutes; writes BENCHMARKS.md, bench/plots/*.png and
# bench/results.json. As root it apt-get installs the peers and wrk when
# missing. BENCH_FLAGS="-short" is the one-minute smoke run;
# `bin/weirbench run -help` lists the flags.
bench: build
	$(GO) build -o bin/weirbench ./bench/cmd/weirbench
	bin/weirbench run -weir $(BIN) $(BENCH_FLAGS)

# The Go micro-benchmarks of the hot path (no peers, no network setup).
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The port-exhaustion lab: reproduces SNAT port exhaustion on a real kernel
# NAT in network namespaces it makes and removes, and checks that weir
# survives it (about 90 s; exit 0 only when every expectation holds). Needs
# root, iproute2, iptables, nginx and haproxy. LAB_FLAGS="-scenarios 1,2"
# runs some; `bin/weirlab run --help` lists the flags.
lab: build
	$(GO) build -o bin/weirlab ./lab/cmd/weirlab
	bin/weirlab run -weir $(BIN) $(LAB_FLAGS)

clean:
	rm -rf bin
