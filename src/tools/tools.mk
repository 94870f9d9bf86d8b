# pk: the command-line client, shell and recipes (src/tools/pk), on libzookeeper-mt and libedit.
# Links only src/base's objects (not all of libpkcore.a) so pk builds even while other modules are mid-edit.
PK_SRC := $(sort $(wildcard src/tools/pk/*.c))
PK_OBJ := $(PK_SRC:%.c=$(BUILD)/obj/%.o)
PK_BASE_OBJ := $(BUILD)/obj/src/base/base.o

$(BUILD)/pk: $(PK_OBJ) $(PK_BASE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lzookeeper_mt -ledit
ifeq ($(CFG),release)
	@ln -sf release/pk build/pk
endif

BINS += $(BUILD)/pk

# Criterion unit tests for pk's helpers (tests/cli/unit_pk.c), linked with pk's objects minus main.
PK_LIB_OBJ := $(filter-out %/pk/main.o,$(PK_OBJ))
$(BUILD)/pk-unit-tests: $(BUILD)/obj/tests/cli/unit_pk.o $(PK_LIB_OBJ) $(PK_BASE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion -lzookeeper_mt -ledit

# CLI tests: drive pk (shell through a pty, one-shot commands, recipes) against Apache ZooKeeper 3.8
# started here, and against build/release/pk-server when it exists and starts. PK_TEST_SERVER=host:port
# targets one already running server instead.
PK_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: test-cli
test-cli: $(BUILD)/pk $(BUILD)/pk-unit-tests
	$(BUILD)/pk-unit-tests --jobs 2
	PK_BIN=$(abspath $(BUILD)/pk) $(PK_PYTHON) -m pytest -q -p no:cacheprovider tests/cli
TEST_TARGETS += test-cli
