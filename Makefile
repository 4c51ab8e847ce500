# csvfs — one non-recursive Makefile.
#
#   make              build every program into build/
#   make check        install build deps, unit tests + integration tests
#   make check-unit   the CUnit suites only
#   make check-layers no include against the folder order (scripts/layercheck)
#   make check-man    lint the man pages (man/)
#   make deb          a Debian package in build/deb/ (debian/)
#   make check-asan   unit + single-node tests under ASan/UBSan
#   make bench        benchmarks (figures as ratios against raw device;
#                     live migration of a QEMU guest: stall and downtime)
#   make demo         the main job: a multi-node cluster sharing one volume
#   make fuzz         longer libFuzzer runs
#   make torture      thousands of crash cut points, 50 rounds of concurrent
#                     mounts of 3 and of 8 nodes, 100 partition trials,
#                     hours of fuzzing
#   make install      PREFIX=/usr/local DESTDIR=
#
# Every target above that builds runs `deps` first and builds in a make
# started after it (`$(MAKE) all`): the pkg-config flags below are computed
# when make starts, so a make that started before deps installed
# libfuse3-dev would compile without them (tests/integration/t1700).
# DEPS_CMD=: skips the installer (package builds, which declare their deps).
#
# Library objects are every .c of meta/ (the on-disk library), meta/mds/
# (the coordinator), meta/fsck/, net/, lockd/ and fs/ that is not a
# program's main file (PROG_SRCS). Each tests/unit/X_test.c is one CUnit
# runner linked with them.

PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
MOUNTDIR  ?= /sbin
OCFDIR    ?= /usr/lib/ocf/resource.d/csvfs
B         ?= build

CC        ?= cc
PKG_CONFIG ?= pkg-config
DEPS_CMD  ?= scripts/install-deps.sh
PKGS      := fuse3 openssl zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CPG_LIBS   := $(shell $(PKG_CONFIG) --libs libcpg libquorum libcmap 2>/dev/null)

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

PROG_SRCS := meta/mkfs_main.c meta/fsck/fsck_main.c fs/csvfsd_main.c \
             fs/mount_main.c fs/csvfsctl_main.c
PROGS     := $(B)/mkfs.csvfs $(B)/fsck.csvfs $(B)/csvfsd $(B)/mount.csvfs \
             $(B)/csvfsctl
LIB_SRCS  := $(filter-out $(PROG_SRCS) %_fuzz.c, \
               $(wildcard meta/*.c meta/mds/*.c meta/fsck/*.c net/*.c lockd/*.c \
                 fs/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tests/%)

all: $(PROGS) $(UNIT_BINS) $(TOOL_BINS)
progs: $(PROGS)

# The runners' and tools' objects are intermediates of a pattern chain;
# keep them, or every `make` deletes and rebuilds them.
.SECONDARY: $(UNIT_SRCS:%.c=$(B)/%.o) $(TOOL_SRCS:%.c=$(B)/%.o)

# Rebuild everything when the flags change. The stamp is brought up to
# date while the Makefile is read (not by a FORCE rule), so an up-to-date
# tree has nothing to do: `make -q` succeeds and `make -n` prints nothing
# (tests/integration/t1750-build.sh checks both).
BUILD_FLAGS := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(shell mkdir -p $(B) && { echo '$(BUILD_FLAGS)' | cmp -s - $(B)/FLAGS || \
	echo '$(BUILD_FLAGS)' > $(B)/FLAGS; })
endif

$(B)/%.o: %.c $(B)/FLAGS
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libcsvfs.a: $(LIB_OBJS)
	@echo "  AR $@"
	@rm -f $@ && ar rcs $@ $^

$(B)/mkfs.csvfs: $(B)/meta/mkfs_main.o $(B)/libcsvfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/fsck.csvfs: $(B)/meta/fsck/fsck_main.o $(B)/libcsvfs.a
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
	$(DEPS_CMD)

# ---- fuzzing (clang + libclang-rt-14-dev, installed by deps) -------------
FUZZ_CC       ?= clang
FUZZ_TIME     ?= 600
FUZZ_CFLAGS   := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined \
                 -fno-sanitize-recover=undefined $(WARN) \
                 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -I.
MSG_FUZZ_SRCS := tests/fuzz/msg_fuzz.c net/msg.c net/mdc.c net/mcache.c meta/ondisk.c
FUZZ_RUN       = build-fuzz/msg_fuzz -max_len=4096 \
                 -artifact_prefix=tests/fuzz/corpus/msg/ \
                 build-fuzz/corpus-msg tests/fuzz/corpus/msg

build-fuzz/msg_fuzz: $(MSG_FUZZ_SRCS) $(wildcard include/csvfs/*.h net/*.h meta/*.h)
	@mkdir -p build-fuzz/corpus-msg
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(MSG_FUZZ_SRCS) -o $@ -lz -lpthread

ONDISK_FUZZ_SRCS := tests/fuzz/ondisk_fuzz.c meta/ondisk.c
FSCK_FUZZ_SRCS := tests/fuzz/fsck_fuzz.c \
                  $(filter-out $(PROG_SRCS),$(wildcard meta/*.c meta/mds/*.c \
                    meta/fsck/*.c)) \
                  net/msg.c net/mdc.c net/mcache.c $(wildcard lockd/*.c) fs/local.c
fuzz_run = build-fuzz/$(1)_fuzz -max_len=4096 -timeout=30 \
           -artifact_prefix=tests/fuzz/corpus/$(1)/ \
           build-fuzz/corpus-$(1) tests/fuzz/corpus/$(1)

build-fuzz/ondisk_fuzz: $(ONDISK_FUZZ_SRCS) $(wildcard include/csvfs/*.h meta/*.h)
	@mkdir -p build-fuzz/corpus-ondisk
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ONDISK_FUZZ_SRCS) -o $@ -lz -lpthread
build-fuzz/fsck_fuzz: $(FSCK_FUZZ_SRCS) $(wildcard include/csvfs/*.h meta/*.h \
                      meta/*/*.h net/*.h lockd/*.h)
	@mkdir -p build-fuzz/corpus-fsck
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FSCK_FUZZ_SRCS) -o $@ -lz -lcrypto -lpthread

fuzz: deps
	$(MAKE) fuzz-build
	$(FUZZ_RUN) -max_total_time=$(FUZZ_TIME) -print_final_stats=1
	$(call fuzz_run,ondisk) -max_total_time=$(FUZZ_TIME) -print_final_stats=1
	$(call fuzz_run,fsck) -max_total_time=$(FUZZ_TIME) -print_final_stats=1

fuzz-build: build-fuzz/msg_fuzz build-fuzz/ondisk_fuzz build-fuzz/fsck_fuzz

fuzz-smoke: deps
	$(MAKE) fuzz-build
	$(FUZZ_RUN) -max_total_time=20
	$(call fuzz_run,ondisk) -max_total_time=20
	$(call fuzz_run,fsck) -max_total_time=20

# Thousands of crash cut points, the consistency test at 32 nodes, and an
# hour per fuzz target.
torture: deps
	$(MAKE) all
	CSVFS_BIN=$(abspath $(B)) CRASH_CUTS=2000 CRASH_SEEDS="1 2 3 4 5" \
	CRASH_TRUNC_MIX=1 CRASH_KEEP=$(abspath $(B))/crash-kept \
		tests/integration/t3000-crash.sh
	CSVFS_T2880_NODES=32 TEST_TIMEOUT=5400 \
		tests/run-integration.sh $(B) all t2880
	ELECT_ROUNDS3=50 ELECT_ROUNDS8=50 TEST_TIMEOUT=14400 \
		tests/run-integration.sh $(B) all t2900
	CSVFS_T3320_TRIALS=100 TEST_TIMEOUT=14400 \
		tests/run-integration.sh $(B) all t3320
	$(MAKE) fuzz DEPS_CMD=: FUZZ_TIME=3600

check: deps
	$(MAKE) all
	$(MAKE) check-layers
	$(MAKE) check-man
	$(MAKE) check-unit
	$(MAKE) fuzz-smoke DEPS_CMD=:
	tests/run-integration.sh $(B)

# The folders depend one way (the order is declared in scripts/layercheck);
# the self-test breaks scratch copies of the tree to prove the check fails.
check-layers:
	scripts/layercheck
	scripts/layercheck --self-test

# The man pages must lint clean (mandoc exits non-zero on a warning).
MAN_PAGES := $(wildcard man/*.[0-9])
check-man:
	mandoc -Tlint -W warning $(MAN_PAGES)

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

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(B)
	tests/bench/smallfiles.sh $(B)
	tests/bench/meta.sh $(B)
	tests/bench/handoff.sh $(B)
	tests/bench/buffered.sh $(B)
	tests/bench/migrate.sh $(B)
	tests/bench/failover.sh $(B)
	tests/bench/pacemaker.sh $(B)

demo: deps
	$(MAKE) all
	scripts/demo.sh $(B)

install: deps
	$(MAKE) install-files

# mount(8) looks for its helper in /sbin: mount.csvfs goes there (only
# there: with a merged /usr, /sbin/X and /usr/sbin/X are one file). It runs
# csvfsd from its own directory, else from PATH. The OCF agent learns
# where the programs are.
install-files: $(PROGS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MOUNTDIR)
	install -m 0755 $(filter-out %/mount.csvfs,$(PROGS)) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(B)/mount.csvfs $(DESTDIR)$(MOUNTDIR)/
	install -d $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(filter %.7,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(OCFDIR)
	sed 's|/usr/local/sbin|$(SBINDIR)|g' scripts/ocf/csvfs >$(DESTDIR)$(OCFDIR)/csvfs
	chmod 0755 $(DESTDIR)$(OCFDIR)/csvfs

# ---- Debian package (debian/): $(B)/deb/csvfs_*.deb ---------------------
# Built from a copy of the tree, so dpkg-buildpackage's outputs (written to
# the parent of the source) stay in $(B)/deb.
DEB_DIR := $(B)/deb
deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/csvfs
	tar -cf - --exclude=./.git --exclude='./build*' . | tar -C $(DEB_DIR)/csvfs -xf -
	cd $(DEB_DIR)/csvfs && env -u B MAKEFLAGS= MAKELEVEL= \
		dpkg-buildpackage -us -uc -b -Jauto
	lintian --fail-on error $(DEB_DIR)/*.changes

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all progs deps check check-layers check-man check-unit check-asan bench demo install install-files \
	deb clean fuzz fuzz-build fuzz-smoke torture

-include $(shell find $(B) -path $(DEB_DIR) -prune -o -name '*.d' -type f -print 2>/dev/null)
