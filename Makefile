# lpa-run: build, test and install. `make test` is what CI runs (.ci/run).
PREFIX  ?= /usr/local
SWIFT   ?= swift
# Debian packages the build needs (headers and pkg-config files for the system targets).
APT_DEPS := libseccomp-dev libcap-dev pkg-config
# Static Swift standard library: a dynamically linked Swift program spends ~15 ms
# starting, a static one ~4 ms, and launcher start-up is a benchmarked figure.
RELEASE_FLAGS := -c release --static-swift-stdlib
BIN := .build/release

.PHONY: all deps build test install uninstall clean goldens demo

all: build

deps:
	@missing=""; for p in $(APT_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all present ($(APT_DEPS))"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: missing$$missing; run: sudo apt-get install -y$$missing"; exit 1; fi

build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product lpa-run
	$(SWIFT) build $(RELEASE_FLAGS) --product lpa-probe

# Unit, golden, diagnostics, CLI and real-sandbox tests (as root and as an unprivileged user).
test: deps build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Rewrite the golden plans after a deliberate change; review the diff before committing.
goldens:
	LPA_UPDATE_GOLDENS=1 $(SWIFT) test --filter LPAPolicyTests

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/lpa-run
	install -m 0755 $(BIN)/lpa-run $(DESTDIR)$(PREFIX)/bin/lpa-run
	install -m 0755 $(BIN)/lpa-probe $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-probe

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lpa-run $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-probe

clean:
	rm -rf .build
