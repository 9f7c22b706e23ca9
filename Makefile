# SPDX-License-Identifier: Apache-2.0
#
# nftgate: `make` builds build/nftgate. `make test` and `make demo` work on a fresh Debian 12
# machine as root: they install what is missing with apt-get first.

PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= /lib/systemd/system
SYSCONFDIR ?= /etc
DESTDIR ?=
CC ?= cc
PYTHON ?= /usr/bin/python3
# per fuzz target (make fuzz runs each of FUZZ_TARGETS)
FUZZ_SECONDS ?= 90
FUZZ_RUNS ?= 40000
FUZZ_SEED ?= 20261202
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

PKGS := libnftnl libmnl libnetfilter_conntrack yaml-0.1 json-c libmicrohttpd libsystemd libcurl
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wno-unused-parameter -fno-strict-aliasing -D_GNU_SOURCE -I. $(PKG_CFLAGS) \
	  -DNFTGATE_VERSION='"$(VERSION)"' -MMD -MP
override LDLIBS += $(PKG_LIBS)

BUILD ?= build
MODEL_SRC := $(sort $(wildcard model/*.c))
NFT_SRC := $(sort $(wildcard nft/*.c))
KUBE_SRC := $(sort $(wildcard agent/kube/*.c))
AGENT_SRC := $(filter-out agent/main.c,$(sort $(wildcard agent/*.c agent/*/*.c)))
LIB_SRC := $(MODEL_SRC) $(NFT_SRC) $(AGENT_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Unit tests only: every allocation function our code calls goes through tests/unit/alloc_fail.c
# (allocation-failure injection); build/nftgate is linked without it.
ALLOC_WRAP := malloc calloc realloc reallocarray strdup strndup vasprintf asprintf open_memstream
UNIT_LDFLAGS = $(foreach f,$(ALLOC_WRAP),-Wl,--wrap=$(f))
# The netlink test's fake kernel answers, counts and fails the socket's receives.
$(BUILD)/tests/test_nft_netlink: UNIT_LDFLAGS += -Wl,--wrap=recv -Wl,--wrap=recvmsg
# The events test scripts the notification socket's receives, and joins no group.
$(BUILD)/tests/test_nft_events: UNIT_LDFLAGS += -Wl,--wrap=recv -Wl,--wrap=mnl_socket_setsockopt

ifeq ($(V),1)
Q =
else
Q = @
endif

all: $(BUILD)/nftgate

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libnftgate.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/nftgate: $(BUILD)/obj/agent/main.o $(BUILD)/libnftgate.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/obj/tests/unit/alloc_fail.o $(BUILD)/libnftgate.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(UNIT_LDFLAGS) -o $@ $< $(BUILD)/obj/tests/unit/alloc_fail.o \
		$(BUILD)/libnftgate.a $(LDLIBS) $$($(PKG_CONFIG) --libs cmocka)

# nftgate with test seams (tests/faults/nftgate_faults.c, agent/seams.h) for the end-to-end
# tests: the same library, another main(). Never installed.
$(BUILD)/tests/nftgate-faults: $(BUILD)/obj/tests/faults/nftgate_faults.o $(BUILD)/libnftgate.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
faults: $(BUILD)/tests/nftgate-faults

# Everything a fresh Debian 12 machine lacks, installed only when missing.
DEBS := build-essential libnetfilter-conntrack-dev conntrack pkg-config clang libclang-rt-14-dev libnftnl-dev libmnl-dev libyaml-dev libcmocka-dev libjson-c-dev \
	libmicrohttpd-dev libsystemd-dev libcurl4-openssl-dev systemd curl nftables iproute2 python3 python3-pytest python3-yaml time strace procps \
	etcd-server etcd-client xz-utils openssl
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT     $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing (run as root)"; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; $$t; done

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer, in their own tree.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(MAKE) BUILD=$(BUILD)/asan CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" all unit faults

# The end-to-end suite against that sanitized binary (LeakSanitizer included): every kernel
# path, with real netlink replies, checked for memory errors and leaks.
e2e-asan: asan
	NFTGATE_BIN=$(CURDIR)/$(BUILD)/asan/nftgate $(PYTHON) -m pytest -q tests/e2e

# Everything again with clang, warnings as errors, and its unit tests.
clang:
	$(MAKE) CC=clang BUILD=$(BUILD)/clang all unit

# libFuzzer over every reader of bytes nftgate did not write: the manifests and resolve()
# (manifest), snapshot files (snapshot), the committed record (record), the kernel's netlink
# replies (netlink), nftables notifications (events), conntrack dump replies (conntrack),
# API server responses (json) and watch bodies fed in pieces (watch).
# Each runs FUZZ_RUNS inputs from its
# seeds in tests/fuzz/corpus-<name>/ (at most FUZZ_SECONDS), keeping what it finds in
# $(BUILD)/fuzz/corpus-<name>/. The seed of the mutations is fixed (FUZZ_SEED), so that
# `make test` runs the same inputs on every machine; a longer hunt: make fuzz FUZZ_SEED=0
# FUZZ_RUNS=-1 FUZZ_SECONDS=600.
FUZZ_TARGETS := manifest snapshot record netlink events msgcheck conntrack json watch
FUZZ_CFLAGS = -O1 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -I. \
	$(PKG_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ-CC $<")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/libnftgate.a: $(MODEL_SRC:%.c=$(BUILD)/fuzz/obj/%.o) $(NFT_SRC:%.c=$(BUILD)/fuzz/obj/%.o) \
		$(KUBE_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libnftgate.a
	@$(if $(Q),echo "  FUZZ-LD $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libnftgate.a $(PKG_LIBS)
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "  FUZZ    $$t ($(FUZZ_RUNS) runs, seed $(FUZZ_SEED))"; mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		$(BUILD)/fuzz/fuzz_$$t -runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED) \
			-max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			$(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus-$$t; \
	done

# End-to-end: the real binary, the real kernel, in network namespaces the tests create.
e2e: $(BUILD)/nftgate $(BUILD)/tests/nftgate-faults
	$(PYTHON) -m pytest -q tests/e2e

check: unit asan clang fuzz e2e e2e-asan

test: deps
	$(MAKE) all
	$(MAKE) check

demo: deps
	$(MAKE) all
	./examples/demo.sh $(BUILD)/nftgate

bench: deps
	$(MAKE) all
	$(PYTHON) bench/read_resolve_bench.py --nftgate $(BUILD)/nftgate
	$(PYTHON) bench/apply_bench.py --nftgate $(BUILD)/nftgate
	$(PYTHON) bench/daemon_bench.py --nftgate $(BUILD)/nftgate

# `nftgate run` alone: change latency, commit cost, memory, restarts (root; docs/benchmarks.md)
bench-daemon: deps
	$(MAKE) all
	$(PYTHON) bench/daemon_bench.py --nftgate $(BUILD)/nftgate

# The data plane against direct routing, nft, iptables-nft and HAProxy (root; docs/benchmarks.md).
# Its Debian packages are installed here only, never by `make deps`. The bench runs its own
# nginx and haproxy in namespaces, so their host services are not started by the install
# (a policy-rc.d that answers 101, only while apt runs and only if there is none).
BENCH_DEBS := wrk nginx-light iperf3 haproxy iptables
bench-dataplane: deps
	@missing=$$(for p in $(BENCH_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT     $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		rc=/usr/sbin/policy-rc.d; own=; \
		if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc; chmod 755 $$rc; own=1; fi; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; s=$$?; \
		[ -z "$$own" ] || rm -f $$rc; exit $$s; \
	fi
	$(MAKE) all
	$(PYTHON) bench/dataplane_bench.py --nftgate $(BUILD)/nftgate --json $(BUILD)/dataplane-bench.json

install: $(BUILD)/nftgate
	install -D -m 0755 $(BUILD)/nftgate $(DESTDIR)$(BINDIR)/nftgate
	install -D -m 0644 docs/nftgate.8 $(DESTDIR)$(MANDIR)/man8/nftgate.8
	@# The unit names the installed binary and config: rewritten for BINDIR and SYSCONFDIR.
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/sbin/nftgate|$(BINDIR)/nftgate|' -e 's|/etc/nftgate|$(SYSCONFDIR)/nftgate|g' \
		systemd/nftgate.service > $(DESTDIR)$(UNITDIR)/nftgate.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/nftgate.service
	@# Example configuration; an existing nftgate.env (the admin's) is never overwritten.
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/nftgate/manifests
	install -m 0644 etc/nftgate/manifests/README $(DESTDIR)$(SYSCONFDIR)/nftgate/manifests/README
	[ -e $(DESTDIR)$(SYSCONFDIR)/nftgate/nftgate.env ] || \
		install -m 0644 etc/nftgate/nftgate.env $(DESTDIR)$(SYSCONFDIR)/nftgate/nftgate.env

clean:
	rm -rf $(BUILD)

.PHONY: all faults deps unit asan e2e-asan clang fuzz e2e check test demo bench bench-daemon bench-dataplane install clean
.DELETE_ON_ERROR:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
