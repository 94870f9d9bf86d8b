# px scenario tests: readable scripts with golden output (tests/scenario/*.txt), replayed by px-scenario.
# `make test-scenario` runs them; `$(BUILD)/px-scenario --rewrite tests/scenario/NAME.txt` regenerates a golden.

SCENARIO_SRC := tests/scenario/runner.c
SCENARIO_OBJ := $(SCENARIO_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/px-scenario: $(SCENARIO_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SYS)

.PHONY: test-scenario
test-scenario: $(BUILD)/px-scenario
	$(BUILD)/px-scenario $(sort $(wildcard tests/scenario/*.txt))
TEST_TARGETS += test-scenario
