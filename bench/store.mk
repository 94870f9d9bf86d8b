# store benchmark (not a test): `make store-bench` builds $(BUILD)/store-bench; run it by hand.
$(BUILD)/store-bench: $(BUILD)/obj/bench/store_bench.o $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SYS)

.PHONY: store-bench
store-bench: $(BUILD)/store-bench
