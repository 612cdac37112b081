"""Run etcd_data_restore's phases in this process, pausing forever at one checkpoint (for a test to kill it).

    python restore_phases.py '{"params": {...}, "phases": ["prepared", "swapped"], "pause_at": "renamed aside",
                               "pause_count": 1, "marker": "/tmp/x"}'

At the ``pause_count``-th checkpoint named ``pause_at`` it writes ``marker`` and sleeps: the test then kills the
whole process group, so the kill lands exactly after that moment and before the next.
"""

import json
import sys
import time

from ansible_collections.etcdops.etcd.plugins.module_utils.data_restore import DataRestore


def main(spec):
    seen = []

    def checkpoint(point):
        seen.append(point)
        if point == spec.get("pause_at") and seen.count(point) == spec.get("pause_count", 1):
            with open(spec["marker"], "w") as handle:
                handle.write(point)
            time.sleep(3600)

    restore = DataRestore(checkpoint=checkpoint, **spec["params"])
    phases = dict(prepared=restore.prepare, swapped=restore.swap, finished=restore.finish)
    for phase in spec["phases"]:
        phases[phase]()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
