# tests/cli: the pk CLI test suite lives in src/tools/tools.mk's `test-cli` target (it needs $(BUILD)/pk).
# `make test-cli PK_TEST_SERVER=host:port` runs it against one server you already run.
