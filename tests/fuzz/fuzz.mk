# Fuzz targets for src/wire (libFuzzer, clang). Included by the top-level Makefile.
#   make fuzz        builds $(BUILD)/fuzz_jute and $(BUILD)/fuzz_handshake
#   make test-fuzz   runs each for FUZZ_TIME seconds from the committed seed corpus
# The targets compile only the pure sources they need (src/base, src/wire) with clang and
# -fsanitize=fuzzer,address,undefined, independent of CFG. New inputs found while fuzzing go to
# $(BUILD)/fuzz-corpus/<target> (the committed seeds in tests/fuzz/corpus/<target> are read-only);
# crash reproducers go to $(BUILD)/fuzz-artifacts/.
#   make test-wire-oracle   differential test: every record encoded by src/wire and by the official C
#                           client's jute serializers (static libzookeeper_mt.a) must give identical bytes

FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Isrc -g -O1 \
               -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIB_SRC := $(sort $(wildcard src/base/*.c src/wire/*.c))
FUZZ_DEPS := $(FUZZ_LIB_SRC) $(wildcard src/base/*.h src/wire/*.h) tests/fuzz/fuzz_common.h
FUZZ_NAMES := fuzz_jute fuzz_handshake
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/%)

$(BUILD)/fuzz_jute: tests/fuzz/fuzz_jute.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC)

$(BUILD)/fuzz_handshake: tests/fuzz/fuzz_handshake.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC)

.PHONY: fuzz test-fuzz
fuzz: $(FUZZ_BINS)

test-fuzz: $(FUZZ_BINS)
	@mkdir -p $(BUILD)/fuzz-artifacts
	@set -e; for t in $(FUZZ_NAMES); do \
	  mkdir -p $(BUILD)/fuzz-corpus/$$t; \
	  log=$(BUILD)/fuzz-artifacts/$$t.log; \
	  echo "== $$t: $(FUZZ_TIME)s from tests/fuzz/corpus/$$t (log: $$log)"; \
	  if $(BUILD)/$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	       -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz-artifacts/$$t- \
	       $(BUILD)/fuzz-corpus/$$t tests/fuzz/corpus/$$t >$$log 2>&1; then \
	    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units)' $$log || true; \
	  else \
	    tail -n 40 $$log; echo "$$t FAILED: reproducer in $(BUILD)/fuzz-artifacts/"; exit 1; \
	  fi; \
	done
TEST_TARGETS += test-fuzz

# Differential oracle: the C client's generated serializers are only exported by the static library.
ORACLE_ZK_LIB := $(firstword $(wildcard /usr/lib/*/libzookeeper_mt.a /usr/lib/libzookeeper_mt.a /usr/local/lib/libzookeeper_mt.a))
ORACLE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Isrc -g -O1 \
                 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

$(BUILD)/oracle_jute: tests/fuzz/oracle_jute.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	@test -n "$(ORACLE_ZK_LIB)" || { echo "libzookeeper_mt.a not found (install libzookeeper-mt-dev)"; exit 1; }
	$(CC) $(ORACLE_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(ORACLE_ZK_LIB) -lpthread -lm

.PHONY: test-wire-oracle
test-wire-oracle: $(BUILD)/oracle_jute
	$(BUILD)/oracle_jute
TEST_TARGETS += test-wire-oracle
