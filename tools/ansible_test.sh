#!/usr/bin/env bash
# ansible-test COMMAND ARGS with the ansible-core of the venv whose python is $1 (make sanity and make units: the dev
# venv; tools/matrix.py: the oldest and newest of the support window). ansible-test wants a real
# ansible_collections/<ns>/<name> path (and a git tree of its own there, or it lists the enclosing checkout):
# it runs on a copy, one per venv (the matrix runs two side by side).
set -euo pipefail
python=$1
shift
cd "$(dirname "$0")/.."
venv=$(basename "$(dirname "$(dirname "$python")")")
tree=$PWD/.cache/sanity/$venv/ansible_collections/etcdops/etcd
rm -rf "$tree" && mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$tree"
ansible_test=$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" "$ansible_test/_internal/python_requirements.py")
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")" && cp tools/get_pip_standin.py "$cache.$$" && mv -f "$cache.$$" "$cache"
cd "$tree" && git init -q && git add -A
PATH=$(dirname "$python"):$PATH ansible-test "$@" --color no \
    --python "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
