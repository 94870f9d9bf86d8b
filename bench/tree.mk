# tree benchmark (not a test): `make tree-bench` builds $(BUILD)/tree-bench (the znode tree alone: bytes
# per znode and per-op times); run it by hand.
$(BUILD)/tree-bench: $(BUILD)/obj/bench/tree_bench.o $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SYS)

.PHONY: tree-bench
tree-bench: $(BUILD)/tree-bench
