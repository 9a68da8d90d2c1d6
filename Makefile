# acirun — build, test, benchmark, install.
#
#   make demo    build acirun and a demo ACI from this repo, then run it
#   make test    the whole suite: lint, unit, race detector, fuzz (briefly), end-to-end
#   make bench   speed and memory targets, side by side with the peers

GO        ?= go
PREFIX    ?= /usr/local
UNITDIR   ?= $(PREFIX)/lib/systemd/system
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOARCH    := $(shell $(GO) env GOARCH)
ACI_ARCH  := $(if $(filter arm64,$(GOARCH)),aarch64,$(if $(filter 386,$(GOARCH)),i386,$(GOARCH)))
LDFLAGS   := -s -w -X main.buildVersion=$(VERSION)
FUZZTIME  ?= 5s
STATICCHECK ?= $(GO) tool staticcheck
DEMO_DIR  ?= $(CURDIR)/build/demo

export CGO_ENABLED = 0

.PHONY: all build setup test unit e2e fuzz lint race bench install demo demo-image clean

all: build

build: bin/acirun

bin/acirun: $(shell find . -name '*.go' -not -path './build/*' -not -name '*_test.go') go.mod go.sum
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/acirun

# The whole suite, as CI runs it (.ci/run). End-to-end tests need root and
# boot a real systemd in a namespace box (tests/README.md).
test: setup lint build
	$(GO) test -count=1 -timeout 40m ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)
	scripts/fuzz-brief $(FUZZTIME)

# The Debian packages the suite needs, installed when missing (a no-op on a
# machine that has them); the Go tools it runs are pinned in go.mod.
setup:
	scripts/setup

# The race detector (it needs cgo) over the packages whose work runs in
# goroutines side by side: the import pipeline, fetches, locks. make test runs
# it on these (under a minute); make race on everything (about 2 minutes).
RACE_PKGS ?= ./aci/... ./internal/... ./stage0/...
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 40m ./...

# Every package's own tests, without the end-to-end suites under tests/.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/tests/')

fuzz:
	scripts/fuzz-brief $(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

bench: build
	scripts/bench $(CURDIR)/bin/acirun

install: build
	install -D -m 0755 bin/acirun $(DESTDIR)$(PREFIX)/bin/acirun
	@if [ -d units ] && ls units/* >/dev/null 2>&1; then \
		for u in units/*; do install -D -m 0644 $$u $(DESTDIR)$(UNITDIR)/$$(basename $$u); done; \
	fi

# The demo image: a static hello program and a manifest, built with our own
# builder. No network is needed. The build is reproducible: Go's -trimpath
# output is a function of the sources, and every file's time is that of the
# last commit that touched demo/ (SOURCE_DATE_EPOCH overrides it), so running
# make demo again stores no second copy of the same image.
DEMO_EPOCH ?= $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct -- demo 2>/dev/null),0)
demo-image: build
	rm -rf $(DEMO_DIR)/image && mkdir -p $(DEMO_DIR)/image/rootfs/bin
	$(GO) build -trimpath -buildvcs=false -ldflags '-s -w -buildid=' -o $(DEMO_DIR)/image/rootfs/bin/hello ./demo/hello
	sed 's/@ARCH@/$(ACI_ARCH)/' demo/manifest.in > $(DEMO_DIR)/image/manifest
	find $(DEMO_DIR)/image -exec touch -h -d @$(DEMO_EPOCH) {} +
	bin/acirun image build --overwrite $(DEMO_DIR)/image $(DEMO_DIR)/hello.aci
	bin/acirun image validate $(DEMO_DIR)/hello.aci

demo: demo-image
	scripts/demo $(CURDIR)/bin/acirun $(DEMO_DIR)

clean:
	rm -rf bin build
