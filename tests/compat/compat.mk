# Compatibility, differential and integration suites (python, real server processes).
# Each runs against pk-server ($(BUILD)/pk-server) and, where a comparison is needed, against
# Apache ZooKeeper 3.8.0 (Debian package) in the same run.  The *-zk targets run the harnesses
# against ZooKeeper alone (self-checks that prove the harnesses work).
#   make test-compat       kazoo's test suite: zk and pk, fails on any test passing on zk only
#   make test-diff         differential random ops zk vs pk, fails on the first difference
#   make test-integration  C client + zkCli, crash (kill -9) durability, bad input, against pk
#   make test-diff-selfcheck  zk vs zk must be identical; an altered reply must be caught
#   make test-integration-zk  the integration suites against ZooKeeper

PY := /usr/bin/python3
PK_SERVER_ABS = $(abspath $(BUILD)/pk-server)
DIFF_SEEDS ?= 40
DIFF_OPS ?= 120
PYTEST_INTEG := $(PY) -m pytest -p no:cacheprovider -q -rfE tests/integration

.PHONY: test-compat test-compat-zk test-diff test-diff-selfcheck test-integration test-integration-zk

test-compat: $(BUILD)/pk-server
	PK_SERVER=$(PK_SERVER_ABS) $(PY) tests/compat/run_compat.py --targets zk,pk --out $(BUILD)/compat

test-compat-zk:
	$(PY) tests/compat/run_compat.py --targets zk --out $(BUILD)/compat

test-diff: $(BUILD)/pk-server
	PK_SERVER=$(PK_SERVER_ABS) $(PY) tests/diff/run_diff.py --a zk --b pk --seeds $(DIFF_SEEDS) --ops $(DIFF_OPS)

test-diff-selfcheck:
	$(PY) tests/diff/run_diff.py --a zk --b zk --strict --seeds $(DIFF_SEEDS) --ops $(DIFF_OPS)
	$(PY) tests/diff/run_diff.py --a zk --b zk --strict --seeds 5 --ops 60 --mutate-at 150 --expect-diff

test-integration: $(BUILD)/pk-server
	PK_SERVER=$(PK_SERVER_ABS) PK_TARGET=pk $(PYTEST_INTEG)

test-integration-zk:
	PK_TARGET=zk $(PYTEST_INTEG)

TEST_TARGETS += test-compat test-diff test-integration
