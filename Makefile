# sluice: one entry point. See README.md.
#
#   make deps      install the Debian packages the project needs (quiet when present)
#   make           build everything under build/
#   make check     deps, build, then every test suite (unit, bpf, e2e, fuzz)
#   make asan      unit and e2e suites on the ASan+UBSan build in build/asan/ (part of check)
#   make fuzz      each libFuzzer harness for FUZZ_SECONDS (default 60) (never part of check)
#   make bench     benchmarks, one JSON object per line (never part of check)
#   make soak      the long abuse runs (SL_SOAK=1: 10M random frames, big SYN flood,
#                  24 kill -9 cycles...), one JSON line each (never part of check)
#   make demo      deps, build, run the lab demo end to end
#   make install   DESTDIR= PREFIX=/usr/local
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
ARCH_INC := /usr/include/$(shell gcc -dumpmachine)

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool

DEPS := clang llvm gcc make pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev \
	libmnl-dev libnl-3-dev libnl-route-3-dev libconfig-dev libcmocka-dev \
	iproute2 ethtool nginx-light curl libsystemd-dev jq libclang-rt-14-dev nftables \
	iptables libnetfilter-queue-dev \
	libcurl4-openssl-dev libmicrohttpd-dev prometheus haproxy wrk strace

CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
	-Iinclude -I$(B) -Idaemon
PKGS    := libbpf libconfig libnl-3.0 libnl-route-3.0 libmnl libsystemd libcurl libmicrohttpd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz
BPF_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter -target bpf -mcpu=v3 \
	-I$(ARCH_INC) -Iinclude -Ibpf

BPF_SRC   := $(wildcard bpf/*.bpf.c)
BPF_OBJ   := $(patsubst bpf/%.bpf.c,$(B)/%.bpf.o,$(BPF_SRC))
SKELS     := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRC))
BENCH_BPF := $(patsubst bench/%.bpf.c,$(B)/%.bpf.o,$(wildcard bench/*.bpf.c))
BENCH_SKELS := $(BENCH_BPF:.bpf.o=.skel.h)

# daemon/*.c except main.c form a library the tests link against.
CORE_SRC  := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CORE_OBJ  := $(patsubst daemon/%.c,$(B)/daemon/%.o,$(CORE_SRC))
CORE_LIB  := $(B)/libsluice.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(B)/tests/bpf/%,$(wildcard tests/bpf/test_*.c))
BPF_TEST_LIB := $(filter-out $(wildcard tests/bpf/test_*.c),$(wildcard tests/bpf/*.c))
E2E_TOOLS  := $(patsubst tests/e2e/%.c,$(B)/tests/e2e/%,$(wildcard tests/e2e/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(filter-out %.bpf.c,$(wildcard bench/*.c)))
FUZZ_BINS  := $(B)/fuzz/fuzz_config $(B)/fuzz/fuzz_proto $(B)/fuzz/gen_proto_corpus
FUZZ_SECONDS ?= 60

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: protocol-doc all deps check unit bpf-test e2e fuzz fuzz-corpus bench soak demo install clean
.PHONY: asan asan-build asan-bins

all: $(B)/sluiced $(B)/sluice $(UNIT_TESTS) $(BPF_TESTS) $(E2E_TOOLS) $(BENCH_BINS) $(FUZZ_BINS)

deps:
	@./tests/deps.sh $(DEPS)

$(B)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/sluice/*.h) | $(B)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.bpf.o: bench/%.bpf.c $(wildcard bench/*.h) $(wildcard include/sluice/*.h) | $(B)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(B)/daemon/%.o: daemon/%.c $(wildcard daemon/*.h) $(wildcard include/sluice/*.h) $(SKELS) | $(B)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(AR) rcs $@ $^

$(B)/sluiced: $(B)/daemon/main.o $(CORE_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# The CLI: libmnl only, never libbpf.
CLI_SRC := $(wildcard cli/*.c)
$(B)/sluice: $(CLI_SRC) $(wildcard cli/*.h) include/sluice/proto.h | $(B)
	$(CC) $(CFLAGS) -Icli -o $@ $(CLI_SRC) $(shell pkg-config --cflags --libs libmnl)

# docs/protocol.md is generated from include/sluice/proto.h (checked in;
# tests/e2e/test_cli.sh fails when it is stale).
protocol-doc: $(B)/sluice
	$(B)/sluice protocol doc > docs/protocol.md

$(B)/tests/unit/%: tests/unit/%.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) -lcmocka

$(B)/tests/bpf/%: tests/bpf/%.c $(BPF_TEST_LIB) $(wildcard tests/bpf/*.h) $(SKELS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/bpf -o $@ $< $(BPF_TEST_LIB) $(CORE_LIB) $(PKG_LIBS) -lcmocka

# the lab's NFQUEUE delayer
$(B)/tests/e2e/sldelay: PKG_LIBS += -lnetfilter_queue

$(B)/tests/e2e/%: tests/e2e/%.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

$(B)/bench/%: bench/%.c $(wildcard bench/*.h) $(SKELS) $(BENCH_SKELS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) -lm

# Fuzzing (tests/fuzz/README.md): libFuzzer harnesses, clang with ASan and
# UBSan. The code under test is compiled again with the same sanitizers
# into build/fuzz/ (libsluice.a is gcc's, without them).
# Every UBSan check is fatal.
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all \
	-Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(B) -Idaemon \
	-DSL_LSAN_SUPP='"$(CURDIR)/tests/fuzz/lsan.supp"'
FUZZ_HDRS  := $(wildcard daemon/*.h) $(wildcard include/sluice/*.h) $(SKELS) tests/fuzz/fuzz.h Makefile

$(B)/fuzz/%.o: daemon/%.c $(FUZZ_HDRS) | $(B)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c $< -o $@

$(B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(B)/fuzz/config.o $(B)/fuzz/maglev.o $(B)/fuzz/breaker.o $(FUZZ_HDRS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(shell pkg-config --libs libconfig) -lm

# ctl.c with a fake data path: no libbpf, no dataplane.c (see the harness)
$(B)/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c $(B)/fuzz/ctl.o $(B)/fuzz/config.o $(B)/fuzz/maglev.o $(B)/fuzz/breaker.o $(FUZZ_HDRS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(shell pkg-config --libs libconfig libmnl) -lm

$(B)/fuzz/gen_proto_corpus: tests/fuzz/gen_proto_corpus.c include/sluice/proto.h | $(B)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(shell pkg-config --cflags --libs libmnl)

# Rewrite the checked-in seed corpus of fuzz_proto from the protocol tables.
fuzz-corpus: $(B)/fuzz/gen_proto_corpus
	$(B)/fuzz/gen_proto_corpus tests/fuzz/corpus/proto

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/fuzz.sh

# Sanitizer build (docs/decisions.md, "ASan and UBSan in make check"):
# sluiced, sluice, the unit tests and the e2e tools again, with gcc's
# AddressSanitizer (LeakSanitizer included) and UndefinedBehaviorSanitizer,
# in build/asan/ (a make of its own with B=build/asan: the same rules, the
# same layout). `make asan` runs the unit and e2e suites on it
# (SL_BUILD=build/asan SL_SANITIZE=1: tests/run.sh sets the sanitizer
# options and fails a test on any report). Only our code is instrumented;
# tests/asan/lsan.supp names third-party leaks only.
ASAN_B      := $(B)/asan
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS := -O1 -g $(SAN_FLAGS)

# in the sub-make, where B is build/asan
asan-bins: $(B)/sluiced $(B)/sluice $(UNIT_TESTS) $(E2E_TOOLS) $(B)/lsan_probe

$(B)/lsan_probe: tests/asan/lsan_probe.c | $(B)
	$(CC) $(CFLAGS) -o $@ $<

# build/asan/ starts afresh when the compiler or flags change (its rules
# only know sources)
asan-build:
	@f='$(CLANG) $(ASAN_CFLAGS)'; [ "$$(cat $(ASAN_B)/.flags 2>/dev/null)" = "$$f" ] || \
		{ rm -rf $(ASAN_B); mkdir -p $(ASAN_B); echo "$$f" >$(ASAN_B)/.flags; }
	@CFLAGS='$(ASAN_CFLAGS)' $(MAKE) --no-print-directory B=$(ASAN_B) CC=$(CLANG) asan-bins

asan: deps
	@$(MAKE) --no-print-directory all asan-build
	@SL_BUILD=$(ASAN_B) SL_SANITIZE=1 ./tests/run.sh unit e2e

$(B):
	@mkdir -p $(B)

check: deps
	@$(MAKE) --no-print-directory all asan-build
	@./tests/run.sh unit bpf e2e fuzz
	@SL_BUILD=$(ASAN_B) SL_SANITIZE=1 ./tests/run.sh unit e2e

unit: all
	@./tests/run.sh unit

bpf-test: all
	@./tests/run.sh bpf

e2e: all
	@./tests/run.sh e2e

bench: deps
	@$(MAKE) --no-print-directory all >&2
	@./bench/run.sh

# The long versions of the abuse tests (tests read SL_SOAK).
soak: deps
	@$(MAKE) --no-print-directory all >&2
	@SL_SOAK=1 ./bench/abuse.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@./tests/e2e/demo.sh

install: $(B)/sluiced $(B)/sluice
	install -D -m 0755 $(B)/sluiced $(DESTDIR)$(PREFIX)/sbin/sluiced
	install -D -m 0755 $(B)/sluice $(DESTDIR)$(PREFIX)/sbin/sluice
	install -D -m 0644 docs/sluice.8 $(DESTDIR)$(PREFIX)/share/man/man8/sluice.8
	install -D -m 0644 docs/sluiced.8 $(DESTDIR)$(PREFIX)/share/man/man8/sluiced.8
	install -D -m 0644 cli/sluice.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/sluice
	install -D -m 0644 packaging/sluice.conf.example $(DESTDIR)$(PREFIX)/share/doc/sluice/sluice.conf.example
	install -D -m 0644 packaging/sluiced.service $(DESTDIR)$(PREFIX)/lib/systemd/system/sluiced.service
	install -D -m 0644 docs/sluice.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/sluice.conf.5

clean:
	rm -rf $(B)
