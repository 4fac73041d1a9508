# ksgen — see README.md. CI runs .ci/run, which calls `make test`.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 50000x
BENCHTIME ?= 3x
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: build test lint golden bench fuzz e2e example clean

build:
	$(GO) build -o bin/ksgen ./cmd/ksgen

# test runs every package's tests, including the real-consumer checks
# (Ignition's parser, cloud-init schema, kubeadm validation) that need the
# packages .ci/run installs.
test:
	$(GO) test -count=1 $(PKGS)

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	@test -x $(STATICCHECK) || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) $(PKGS)

golden:
	$(GO) test ./generator -run TestGolden -update

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./generator

fuzz:
	$(GO) test ./generator/spec -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)

# example renders the bundled example cluster, as the README's first command does.
example:
	$(GO) run ./cmd/ksgen render -f testdata/config-sample.yaml -o out

clean:
	rm -rf bin out
