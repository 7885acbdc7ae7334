# drover: build, test, benchmark. See README.md.
GO      ?= go
BIN     := bin/drover
PKGS    := ./...

.PHONY: build test test-short lint bench bench-doc quickstart clean fmt

build:
	$(GO) build -o $(BIN) ./cmd/drover

# The whole suite: formatting, vet, unit tests and the real-sshd integration
# tests, with the race detector. Integration tests need root and openssh-server
# (see README); without them they are skipped, unless DROVER_REQUIRE_FLEET=1.
test: lint
	$(GO) test -race -timeout 40m $(PKGS)

# Unit tests only: no fleet, no root.
test-short:
	$(GO) test -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# Build drover and run a real example end to end: plan, apply, apply again.
quickstart: build
	./examples/quickstart.sh

# drover beside spot and Ansible (where installed) on fleets of 1, 10, 50,
# 200 and 1000 hosts (Ansible up to 10); needs root. Not part of test.
# BENCH_FLAGS="-hosts 200 -no-ansible" etc.; see docs/speed.md. bench-doc
# also rewrites the results table in docs/speed.md.
bench:
	$(GO) run ./integration/bench $(if $(BENCH_FLAGS),$(BENCH_FLAGS),-write-doc)

bench-doc:
	$(GO) run ./integration/bench -write-doc $(BENCH_FLAGS)

clean:
	rm -rf bin
