# paxoskeeper build.  `make` builds the release configuration; `make CFG=asan` the ASan+UBSan one.
# Binaries land in build/<cfg>/ and, for release, are linked as build/pk-server, build/pk, build/pk-sim.
# Module fragments (*.mk) add their own binaries and append to TEST_TARGETS; `make test` runs them all.

CFG ?= release
BUILD := build/$(CFG)
CC ?= cc

PKG_LIBS := libuv libsasl2 libcrypto
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -Isrc -g -MMD -MP -pthread
ifeq ($(CFG),release)
  CFLAGS_CFG := -O2
else ifeq ($(CFG),asan)
  CFLAGS_CFG := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LDFLAGS_CFG := -fsanitize=address,undefined
else ifeq ($(CFG),debug)
  CFLAGS_CFG := -O0
else
  # Mutant builds (tests/sim): CFG=mutant-<name> compiles with PX_MUTANT_<NAME> defined.
  CFLAGS_CFG := -O2 $(MUTANT_FLAGS)
endif
CFLAGS ?=
CFLAGS += $(CFLAGS_BASE) $(CFLAGS_CFG) $(EXTRA_CFLAGS)
LDFLAGS += -pthread $(LDFLAGS_CFG)
LDLIBS_SYS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null || echo -luv -lsasl2 -lcrypto) -lm

# Pure cores plus store: one static library that every binary links.
CORE_SRC := $(sort $(wildcard src/base/*.c src/wire/*.c src/px/*.c src/zk/*.c src/store/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CORE_LIB := $(BUILD)/libpkcore.a

# Runtime library (everything in src/rt except main.c), so tests can link rt pieces.
RT_SRC := $(sort $(filter-out src/rt/main.c,$(wildcard src/rt/*.c)))
RT_OBJ := $(RT_SRC:%.c=$(BUILD)/obj/%.o)
RT_LIB := $(BUILD)/libpkrt.a

UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)

BINS := $(BUILD)/pk-server
TEST_TARGETS :=

.PHONY: all test clean asan
# The default goal; its prerequisites are added after the fragments (below), which append to BINS.
all:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(RT_LIB): $(RT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pk-server: $(BUILD)/obj/src/rt/main.o $(RT_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SYS)
ifeq ($(CFG),release)
	@ln -sf release/pk-server build/pk-server
endif

# Unit tests: one Criterion binary for every tests/unit/*.c.
$(BUILD)/unit-tests: $(UNIT_OBJ) $(RT_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS_SYS)

.PHONY: test-unit
test-unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests
TEST_TARGETS += test-unit

asan:
	$(MAKE) CFG=asan all

-include $(sort $(wildcard src/*/*.mk tests/*/*.mk bench/*.mk))

# Every binary the fragments declared (a rule's prerequisites are expanded where it is read, so not above).
all: $(BINS)

# `make test` runs every suite: unit tests under ASan+UBSan first, then the fragments' suites.
# Builds run two jobs wide (2 cores); the suites run one after another (they start servers on fixed ports).
test:
	$(MAKE) -j2 CFG=asan build/asan/unit-tests
	$(MAKE) CFG=asan test-unit
	$(MAKE) -j2 CFG=release all
	$(MAKE) CFG=release $(filter-out test-unit,$(TEST_TARGETS))

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
