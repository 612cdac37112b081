# Two set-up commands for newcomers: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(CURDIR)/$(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.cache/collections
export ETCD_BINARIES_DIR ?= $(CURDIR)/.cache/etcd
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Each stage of `make test` prints its time: the CI budget is kept by reading these lines.
timed = TIMEFORMAT="== $(1): %R s wall, %U s user, %S s sys"; time

.PHONY: setup collection etcd-binaries test test-pytest test-checks test-molecule pytest sanity units matrix lint build-check molecule demo bench ee

setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	touch $@

# The checkout seen as ansible_collections/etcdops/etcd, for ansible and the tests.
collection: setup
	mkdir -p $(COLLECTIONS)/ansible_collections/etcdops
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/etcdops/etcd
	$(VPY) tools/wheel_collections.py $(COLLECTIONS) community.crypto containers.podman ansible.posix

etcd-binaries: setup
	$(VPY) tools/etcd_binaries.py

# The real-etcd tests mostly wait on etcd and ansible-playbook: one worker per CPU, a test file per worker (its
# module-scoped fixtures built once); every test uses its own free ports and tmp dirs.
PYTEST_PARALLEL ?= -n auto --dist loadfile

# Three lanes side by side (each mostly waits: on etcd, systemd, pip, Ansible round trips), each lane's output
# printed whole when it ends (make -O), then one summary of every lane: CI shows only the end of the output.
LANE_NAMES := pytest matrix checks molecule
keep = $(VPY) tools/lanes.py run $(1) --

test: setup collection etcd-binaries
	@$(VPY) tools/lanes.py clear $(LANE_NAMES)
	@$(call timed,test) $(MAKE) --no-print-directory -j 3 -O test-pytest test-checks test-molecule; status=$$?; \
	  $(VPY) tools/lanes.py summary $(LANE_NAMES) || status=1; exit $$status

test-pytest:
	@$(call timed,pytest) $(call keep,pytest) env COLUMNS=240 $(VPY) -m pytest $(PYTEST_PARALLEL) --durations=15

# The lanes' own make never redoes set-up: relinking the collection under a running test would break it.
LANE = $(MAKE) --no-print-directory -o setup -o collection -o etcd-binaries

test-checks:
	@$(call timed,matrix) $(call keep,matrix) $(LANE) matrix
	@$(call timed,units lint build-check) $(call keep,checks) $(LANE) units lint build-check

test-molecule:
	@$(call timed,molecule) $(call keep,molecule) $(LANE) molecule

pytest: setup collection etcd-binaries
	$(VPY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

sanity: setup
	bash tools/ansible_test.sh $(VPY) sanity --requirements

# The unit tests (tests/unit, no etcd) the ecosystem's way; `make pytest` runs them with the real-etcd suite.
units: setup
	bash tools/ansible_test.sh $(VPY) units --venv --requirements

# ansible-core 2.18 to 2.21: the modules and filters play on each, sanity on the oldest and the newest.
matrix: setup collection etcd-binaries
	$(VPY) tools/matrix.py $(MATRIX_ARGS)

lint: setup collection
	ansible-lint --profile production
	antsibull-changelog lint
	@# Managed hosts and the command line run Python 3.8 and later: syntax and library use of that code.
	vermin --target=3.8- --violations --no-tips --eval-annotations plugins/modules plugins/module_utils bin/etcd-migrate
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

build-check: setup
	rm -rf .cache/build && ansible-galaxy collection build --output-path .cache/build . >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_migrate >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_datadir_info >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_member_switch >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_data_restore >/dev/null
	ansible-doc -t module etcdops.etcd.etcdctl >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_member_process >/dev/null
	ansible-doc -t filter etcdops.etcd.etcd_migration_versions etcdops.etcd.etcd_rolling_preflight etcdops.etcd.etcd_rejected_settings etcdops.etcd.etcd_restore_version_refusal etcdops.etcd.etcd_membership_change etcdops.etcd.etcd_member_settings etcdops.etcd.etcd_member_ids_not_kept >/dev/null
	ansible-doc -t role etcdops.etcd.binaries etcdops.etcd.server etcdops.etcd.rolling etcdops.etcd.pki etcdops.etcd.backup etcdops.etcd.membership >/dev/null
	@echo "collection build and ansible-doc: ok"

# Systemd containers under podman on an internal network, with the local release mirror; the rolling scenario
# beside the other two (tools/molecule_run.py).
molecule: setup collection etcd-binaries
	bash tools/molecule-env.sh
	. .cache/podman/molecule.env && $(VPY) tools/molecule_run.py rolling default,cluster

demo: setup collection etcd-binaries
	$(VPY) tools/demo.py

# The execution environment image (execution-environment.yml) built with podman, and the demo run inside it.
ee: setup etcd-binaries
	bash tools/ee.sh

bench: setup collection etcd-binaries
	$(VPY) tools/bench.py $(BENCH_ARGS)
