# ksgen — see README.md. CI runs .ci/run, which calls `make test`.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 50000x
BENCHTIME ?= 3x
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: build test lint golden docs bench bench-cli fuzz e2e e2e-boot e2e-boot-image example clean

# VERSION is what ksgen version prints: the checkout's commit by default.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/ksgen ./cmd/ksgen

# test runs every package's tests, including the real-consumer checks
# (Ignition's parser, cloud-init schema, kubeadm validation) that need the
# packages .ci/run installs. A cold machine builds Ignition from source inside
# the generator package's tests: past go test's 10-minute default on 2 cores.
test:
	$(GO) test -count=1 -timeout 30m $(PKGS)

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	@test -x $(STATICCHECK) || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) $(PKGS)

golden:
	$(GO) test ./generator -run TestGolden -update

# docs rewrites the README's ksgen document reference from the Go types
# (TestReadmeReference fails when it is stale).
docs:
	$(GO) generate ./generator/input/spec/schema

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./generator

# bench-cli times `ksgen render` of generated 1,000- and 10,000-host specs to
# disk with /usr/bin/time -v (wall time, peak RSS). Not run in CI.
bench-cli: build
	generator/bench-cli.sh

fuzz:
	$(GO) test ./generator/input/spec -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)

# e2e brings up a real 2 control-plane + 1 worker cluster from ksgen's output
# on this machine (root; containerd, runc, haproxy, iproute2, curl): see the
# README's "End-to-end test". Kubernetes and etcd are built from the Go module
# proxy once and cached under ~/.cache/ksgen-test. The certificate renewal
# script runs first against a PKI the real kubeadm writes.
e2e:
	KSGEN_E2E=1 $(GO) test -count=1 -timeout 45m -v -run TestRenewalWithKubeadm ./generator/internal/render/certrenew
	KSGEN_E2E=1 $(GO) test -count=1 -timeout 45m -v -run TestCluster ./generator/internal/e2e

# e2e-boot boots every host of generator/internal/e2e/testdata/boot/seed.yaml
# (3 + 3 with flannel) as a systemd-nspawn machine with real systemd and cloud-init, each from its
# own user-data only (root; mmdebstrap, systemd-container, iproute2, haproxy):
# see the README's "End-to-end test". .ci/run runs it. On a shared machine,
# run it under the lock other engineers' e2e runs take:
#   flock /tmp/ksgen-e2e.lock make e2e-boot
# e2e-boot-image only builds (or finds) the cached test image; it starts no
# machine, so it needs no lock.
e2e-boot:
	KSGEN_E2E_BOOT=1 $(GO) test -count=1 -timeout 60m -v -run '^TestBoot$$' ./generator/internal/e2e

e2e-boot-image:
	KSGEN_E2E_BOOT=1 $(GO) test -count=1 -timeout 45m -v -run '^TestBootImage$$' ./generator/internal/e2e

# example renders the bundled example cluster, as the README's first command does.
example:
	$(GO) run ./cmd/ksgen render -f testdata/config-sample.yaml -o out

clean:
	rm -rf bin out
