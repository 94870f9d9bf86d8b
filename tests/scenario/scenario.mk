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

# Mutation check of the goldens: each px mutant (PX_MUTANT_*) must change the output of at least one scenario.
PX_MUTANTS := ACCEPT_BELOW_PROMISE ADOPT_NOT_HIGHEST CHOSEN_WITHOUT_QUORUM SKIP_NOOP_FILL
PX_SCENARIO_DEPS := tests/scenario/runner.c $(wildcard src/px/*.c src/px/*.h src/base/*.c src/base/*.h)

$(BUILD)/px-scenario-mutant-%: $(PX_SCENARIO_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -DPX_MUTANT_$* -o $@ tests/scenario/runner.c \
	    $(wildcard src/px/*.c) $(wildcard src/base/*.c) $(LDFLAGS)

.PHONY: test-scenario-mutants
test-scenario-mutants: $(PX_MUTANTS:%=$(BUILD)/px-scenario-mutant-%)
	@for m in $(PX_MUTANTS); do \
	    if $(BUILD)/px-scenario-mutant-$$m $(sort $(wildcard tests/scenario/*.txt)) >/dev/null 2>&1; then \
	        echo "mutant $$m: NOT caught by the scenario goldens"; exit 1; \
	    else echo "mutant $$m: caught"; fi; \
	done
TEST_TARGETS += test-scenario-mutants
