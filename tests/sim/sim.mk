# tests/sim: the deterministic simulator pk-sim, its seed sweep (test-sim) and the mutation proof (test-mutants).
#   make build/pk-sim                       release binary (also part of `make all`)
#   make test-sim                           SIM_SEEDS seeds of 3 replicas and SIM_SEEDS of 5 (store disk_mem),
#                                           500 more on the simulator's own disk, 1000 of one replica (no disk
#                                           wipes or rot: f = 0); all must pass
#   make test-mutants                       each mutant build must be caught within MUTANT_SEEDS seeds
#   make CFG=mutant-x MUTANT_FLAGS=-DSIM_MUTANT_REPLY_BEFORE_FSYNC build/mutant-x/pk-sim

SIM_SRC := $(sort $(wildcard tests/sim/*.c))
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/pk-sim: $(SIM_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SYS)
ifeq ($(CFG),release)
	@ln -sf release/pk-sim build/pk-sim
endif

all: $(BUILD)/pk-sim

SIM_SEEDS ?= 2000
MUTANT_SEEDS ?= 1000

.PHONY: test-sim test-mutants
test-sim: $(BUILD)/pk-sim
	$(BUILD)/pk-sim --seeds $(SIM_SEEDS) --start 1 --nodes 3
	$(BUILD)/pk-sim --seeds $(SIM_SEEDS) --start 100001 --nodes 5
	$(BUILD)/pk-sim --seeds 500 --start 200001 --own-disk
	$(BUILD)/pk-sim --seeds 1000 --start 300001 --nodes 1
TEST_TARGETS += test-sim

# name:flag pairs; each build must make pk-sim fail (exit nonzero) within MUTANT_SEEDS seeds.
SIM_MUTANTS := accept:PX_MUTANT_ACCEPT_BELOW_PROMISE adopt:PX_MUTANT_ADOPT_NOT_HIGHEST \
               chosen:PX_MUTANT_CHOSEN_WITHOUT_QUORUM noop:PX_MUTANT_SKIP_NOOP_FILL \
               reply:SIM_MUTANT_REPLY_BEFORE_FSYNC order:SIM_MUTANT_APPLY_OUT_OF_ORDER sync:SIM_MUTANT_SYNC_LOCAL \
               lost:SIM_MUTANT_FORGET_DISK_LOST zxid:SIM_MUTANT_IGNORE_LAST_ZXID

test-mutants:
	@set -e; for m in $(SIM_MUTANTS); do \
	  name=$${m%%:*}; flag=$${m#*:}; \
	  $(MAKE) -j2 --no-print-directory CFG=mutant-$$name MUTANT_FLAGS=-D$$flag build/mutant-$$name/pk-sim >/dev/null; \
	  if build/mutant-$$name/pk-sim --seeds $(MUTANT_SEEDS) --start 1 --stop-on-fail > build/mutant-$$name/sim.log 2>&1; \
	  then echo "MUTANT NOT CAUGHT: $$flag ($(MUTANT_SEEDS) seeds)"; tail -1 build/mutant-$$name/sim.log; exit 1; \
	  else echo "mutant caught: $$flag: $$(grep -m1 FAIL build/mutant-$$name/sim.log | cut -c1-200)"; fi; \
	done
TEST_TARGETS += test-mutants
