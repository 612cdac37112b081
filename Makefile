# Two set-up commands for newcomers: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(CURDIR)/$(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.cache/collections
SANITY_TREE := $(CURDIR)/.cache/sanity/ansible_collections/etcdops/etcd
export ETCD_BINARIES_DIR ?= $(CURDIR)/.cache/etcd
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup collection etcd-binaries test pytest ansible-test-tree sanity units lint build-check molecule demo bench

setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	touch $@

# The checkout seen as ansible_collections/etcdops/etcd, for ansible and the tests.
collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/etcdops
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/etcdops/etcd

etcd-binaries: setup
	$(VPY) tools/etcd_binaries.py

test: setup collection etcd-binaries
	$(VPY) -m pytest
	$(MAKE) --no-print-directory sanity units lint build-check molecule

pytest: setup collection etcd-binaries
	$(VPY) -m pytest $(PYTEST_ARGS)

# ansible-test wants a real ansible_collections/<ns>/<name> path (and a git tree of its own
# there, or it lists the enclosing checkout): sanity and units run on a copy.
ANSIBLE_TEST = cd $(SANITY_TREE) && ansible-test
ANSIBLE_TEST_PYTHON = --python $$($(VPY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

ansible-test-tree: setup
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(SANITY_TREE)
	pip_version=$$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" $$($(VPY) -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py); \
		cache=~/.ansible/test/cache/get_pip_$${pip_version//./_}.py; \
		mkdir -p $$(dirname $$cache) && cp tools/get_pip_standin.py $$cache
	cd $(SANITY_TREE) && git init -q && git add -A

sanity: ansible-test-tree
	$(ANSIBLE_TEST) sanity $(ANSIBLE_TEST_PYTHON) --requirements --color no

# The unit tests (tests/unit, no etcd) the ecosystem's way; `make pytest` runs them with the real-etcd suite.
units: ansible-test-tree
	$(ANSIBLE_TEST) units --venv $(ANSIBLE_TEST_PYTHON) --requirements --color no

lint: setup collection
	ansible-lint --profile production

build-check: setup
	rm -rf .cache/build && ansible-galaxy collection build --output-path .cache/build . >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_migrate >/dev/null
	ansible-doc -t module etcdops.etcd.etcd_datadir_info >/dev/null
	ansible-doc -t filter etcdops.etcd.etcd_migration_versions etcdops.etcd.etcd_rolling_preflight etcdops.etcd.etcd_rejected_settings >/dev/null
	ansible-doc -t role etcdops.etcd.binaries etcdops.etcd.server etcdops.etcd.rolling >/dev/null
	@echo "collection build and ansible-doc: ok"

# Systemd containers under podman on an internal network, with the local release mirror.
molecule: setup collection etcd-binaries
	bash tools/molecule-env.sh
	. .cache/podman/molecule.env && cd extensions && molecule test -s default && molecule test -s cluster && molecule test -s rolling

demo: setup collection etcd-binaries
	$(VPY) tools/demo.py

bench: setup collection etcd-binaries
	$(VPY) tools/bench.py $(BENCH_ARGS)
