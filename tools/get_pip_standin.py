"""Stand-in for ansible-test's pip bootstrap script, whose host this network cannot reach.

ansible-test runs its cached ``get-pip`` with pip-install arguments in a fresh
venv; this does the same from the interpreter's own ensurepip and PyPI.
ensurepip runs in a child process: in-process it sets PIP_CONFIG_FILE to
/dev/null, which would hide the machine's pip configuration (its CA bundle).
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
