# csvfs — one non-recursive Makefile.
#
#   make              build every program into build/
#   make check        install build deps, unit tests + integration tests
#   make check-unit   the CUnit suites only
#   make check-asan   unit + single-node tests under ASan/UBSan
#   make bench        benchmarks (figures as ratios against raw device)
#   make demo         the main job: a multi-node cluster sharing one volume
#   make fuzz         longer libFuzzer runs
#   make torture      thousands of crash cut points, hours of fuzzing
#   make install      PREFIX=/usr/local DESTDIR=
#
# Library objects are every .c of meta/, net/, lockd/ and fs/ that is not a
# program's main file (PROG_SRCS). Each tests/unit/X_test.c is one CUnit
# runner linked with them.

PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   ?= $(PREFIX)/sbin
OCFDIR    ?= /usr/lib/ocf/resource.d/csvfs
B         ?= build

CC        ?= cc
PKGS      := fuse3 openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPG_LIBS   := $(shell pkg-config --libs libcpg libquorum libcmap 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wvla -Wformat-security \
             -Wno-missing-field-initializers
HARDEN    := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT       ?= -O2 -g
SAN       ?=
CFLAGS    += -std=gnu11 $(OPT) $(WARN) $(HARDEN) $(SAN) -D_GNU_SOURCE \
             -D_FILE_OFFSET_BITS=64 -Iinclude -I. $(PKG_CFLAGS)
LDFLAGS   += -pie -Wl,-z,relro,-z,now $(SAN)
LDLIBS    += $(PKG_LIBS) $(CPG_LIBS) -lpthread

PROG_SRCS := meta/mkfs_main.c meta/fsck_main.c fs/csvfsd_main.c \
             fs/mount_main.c fs/csvfsctl_main.c
PROGS     := $(B)/mkfs.csvfs $(B)/fsck.csvfs $(B)/csvfsd $(B)/mount.csvfs \
             $(B)/csvfsctl
LIB_SRCS  := $(filter-out $(PROG_SRCS) %_fuzz.c, \
               $(wildcard meta/*.c net/*.c lockd/*.c fs/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tests/%)

all: $(PROGS) $(UNIT_BINS) $(TOOL_BINS)

# Rebuild everything when the flags change.
$(B)/FLAGS: FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' | cmp -s - $@ || \
		echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' > $@

$(B)/%.o: %.c $(B)/FLAGS
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libcsvfs.a: $(LIB_OBJS)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^

$(B)/mkfs.csvfs: $(B)/meta/mkfs_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/fsck.csvfs: $(B)/meta/fsck_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/csvfsd: $(B)/fs/csvfsd_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/mount.csvfs: $(B)/fs/mount_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/csvfsctl: $(B)/fs/csvfsctl_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%_test: $(B)/tests/unit/%_test.o $(B)/libcsvfs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit
$(B)/tests/%: $(B)/tests/tools/%.o $(B)/libcsvfs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	scripts/install-deps.sh

# ---- fuzzing (clang + libclang-rt-14-dev, installed by deps) -------------
FUZZ_CC       ?= clang
FUZZ_TIME     ?= 600
FUZZ_CFLAGS   := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=undefined $(WARN) \
                 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -I.
MSG_FUZZ_SRCS := tests/fuzz/msg_fuzz.c net/msg.c net/mdc.c net/mcache.c meta/ondisk.c \
                 meta/errors.c
FUZZ_RUN       = build-fuzz/msg_fuzz -max_len=4096 \
                 -artifact_prefix=tests/fuzz/corpus/msg/ \
                 build-fuzz/corpus-msg tests/fuzz/corpus/msg

build-fuzz/msg_fuzz: $(MSG_FUZZ_SRCS) $(wildcard include/csvfs/*.h net/*.h meta/*.h)
	@mkdir -p build-fuzz/corpus-msg
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(MSG_FUZZ_SRCS) -o $@ -lz -lpthread

ONDISK_FUZZ_SRCS := tests/fuzz/ondisk_fuzz.c meta/ondisk.c meta/errors.c
FSCK_FUZZ_SRCS := tests/fuzz/fsck_fuzz.c \
                  $(filter-out $(PROG_SRCS),$(wildcard meta/*.c)) \
                  net/msg.c net/mdc.c net/mcache.c $(wildcard lockd/*.c)
fuzz_run = build-fuzz/$(1)_fuzz -max_len=4096 -timeout=30 \
           -artifact_prefix=tests/fuzz/corpus/$(1)/ \
           build-fuzz/corpus-$(1) tests/fuzz/corpus/$(1)

build-fuzz/ondisk_fuzz: $(ONDISK_FUZZ_SRCS) $(wildcard include/csvfs/*.h meta/*.h)
	@mkdir -p build-fuzz/corpus-ondisk
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ONDISK_FUZZ_SRCS) -o $@ -lz -lpthread
build-fuzz/fsck_fuzz: $(FSCK_FUZZ_SRCS) $(wildcard include/csvfs/*.h meta/*.h net/*.h lockd/*.h)
	@mkdir -p build-fuzz/corpus-fsck
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FSCK_FUZZ_SRCS) -o $@ -lz -lcrypto -lpthread

fuzz: build-fuzz/msg_fuzz build-fuzz/ondisk_fuzz build-fuzz/fsck_fuzz
	$(FUZZ_RUN) -max_total_time=$(FUZZ_TIME) -print_final_stats=1
	$(call fuzz_run,ondisk) -max_total_time=$(FUZZ_TIME) -print_final_stats=1
	$(call fuzz_run,fsck) -max_total_time=$(FUZZ_TIME) -print_final_stats=1

fuzz-smoke: build-fuzz/msg_fuzz build-fuzz/ondisk_fuzz build-fuzz/fsck_fuzz
	$(FUZZ_RUN) -max_total_time=20
	$(call fuzz_run,ondisk) -max_total_time=20
	$(call fuzz_run,fsck) -max_total_time=20

# Thousands of crash cut points and an hour per fuzz target.
torture: all
	CSVFS_BIN=$(abspath $(B)) CRASH_CUTS=2000 CRASH_SEEDS="1 2 3 4 5" \
	CRASH_TRUNC_MIX=1 CSVFS_STRICT=1 CRASH_KEEP=$(abspath $(B))/crash-kept \
		tests/integration/t3000-crash.sh
	$(MAKE) fuzz FUZZ_TIME=3600

check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) fuzz-smoke
	tests/run-integration.sh $(B)

check-unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; done; exit $$fail

check-asan: deps
	$(MAKE) B=build-asan OPT='-O1 -g' \
		SAN='-fsanitize=address,undefined -fno-omit-frame-pointer' \
		HARDEN= all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
		$(MAKE) B=build-asan OPT='-O1 -g' \
		SAN='-fsanitize=address,undefined -fno-omit-frame-pointer' \
		HARDEN= check-unit
	ASAN_OPTIONS=detect_leaks=0 tests/run-integration.sh build-asan single

bench: deps all
	tests/bench/run.sh $(B)
	tests/bench/smallfiles.sh $(B)
	tests/bench/meta.sh $(B)
	tests/bench/handoff.sh $(B)

demo: deps all
	scripts/demo.sh $(B)

install: $(PROGS)
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -d $(DESTDIR)$(OCFDIR)
	install -m 0755 scripts/ocf/csvfs scripts/ocf/csvfs-disk $(DESTDIR)$(OCFDIR)/

clean:
	rm -rf build build-asan build-fuzz

FORCE:
.PHONY: all deps check check-unit check-asan bench demo install clean fuzz \
	fuzz-smoke torture FORCE

-include $(shell find $(B) -name '*.d' 2>/dev/null)
