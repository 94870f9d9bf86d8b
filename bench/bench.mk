# pk-bench: the lean pipelined load generator (src/tools/bench), built on src/base + src/wire only, so it
# builds even while other modules are mid-edit. bench/compare.py runs it against pk-server and ZooKeeper.
BENCH_SRC := $(sort $(wildcard src/tools/bench/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_DEP_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard src/base/*.c src/wire/*.c)))

$(BUILD)/pk-bench: $(BENCH_OBJ) $(BENCH_DEP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lm
ifeq ($(CFG),release)
	@ln -sf release/pk-bench build/pk-bench
endif

BINS += $(BUILD)/pk-bench

# Smoke check of pk-bench's client against pk-server and ZooKeeper, verified with kazoo and with the official
# C client through pk (a few seconds).
BENCH_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: test-bench-smoke
test-bench-smoke: $(BUILD)/pk-bench $(BUILD)/pk-server $(BUILD)/pk
	PK_BENCH=$(abspath $(BUILD)/pk-bench) PK_SERVER=$(abspath $(BUILD)/pk-server) PK_BIN=$(abspath $(BUILD)/pk) \
	  $(BENCH_PYTHON) -m pytest -q -p no:cacheprovider bench/test_bench_smoke.py
TEST_TARGETS += test-bench-smoke

# pk-floor (bench/floor.c): a minimal single-threaded epoll server answering pk-bench's loads with
# pwrite+fdatasync group commit inline; it measures the platform floor (not a test, not installed).
$(BUILD)/pk-floor: $(BUILD)/obj/bench/floor.o $(BENCH_DEP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lm
ifeq ($(CFG),release)
	@ln -sf release/pk-floor build/pk-floor
endif

.PHONY: pk-floor
pk-floor: $(BUILD)/pk-floor
