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

# CLI tests: drive pk (shell through a pty, one-shot commands, recipes) against Apache ZooKeeper 3.8
# started here, and against build/release/pk-server when it exists and starts. PK_TEST_SERVER=host:port
# targets one already running server instead.
PK_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
.PHONY: test-cli
test-cli: $(BUILD)/pk
	PK_BIN=$(abspath $(BUILD)/pk) $(PK_PYTHON) -m pytest -q -p no:cacheprovider tests/cli
TEST_TARGETS += test-cli
