# fanout-floor (not a test): the kernel floor of the watch fan-out workload (one small write to each of N loopback
# connections, one read back from each, optionally one reply each). `make fanout-floor`, run it by hand.
$(BUILD)/fanout-floor: $(BUILD)/obj/bench/fanout_floor.o
	$(CC) $(LDFLAGS) -o $@ $^
ifeq ($(CFG),release)
	@ln -sf release/fanout-floor build/fanout-floor
endif

.PHONY: fanout-floor
fanout-floor: $(BUILD)/fanout-floor
