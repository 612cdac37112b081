"""A client that writes continuously to the cluster, bounded in count and time, recording every acknowledged write.

python3 writer.py OUT_DIR COUNT SECONDS ETCDCTL ENDPOINT...   (stops early when OUT_DIR/stop exists)

It writes with etcdctl (gRPC, the client balancer fails over between the endpoints): 3.4.23 as Debian builds it has
no HTTP gateway. A write counts as acknowledged only when etcdctl reports OK.
"""
import json
import os
import subprocess
import sys
import time

out, count, seconds, etcdctl, endpoints = (sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4],
                                           sys.argv[5:])
deadline = time.monotonic() + seconds
failed = 0
most_failed_for_one_write = 0
i = -1
with open(os.path.join(out, "acked"), "a") as acked:
    for i in range(count):
        if time.monotonic() > deadline or os.path.exists(os.path.join(out, "stop")):
            break
        key = "/writer/%06d" % i
        for attempt in range(20):
            put = subprocess.run([etcdctl, "--endpoints=" + ",".join(endpoints), "--command-timeout=3s",
                                  "put", key, "written %d" % i], capture_output=True, text=True, check=False,
                                 env=dict(os.environ, ETCDCTL_API="3"))
            if put.returncode == 0 and put.stdout.strip() == "OK":
                acked.write(key + "\n")
                acked.flush()
                most_failed_for_one_write = max(most_failed_for_one_write, attempt)
                break
            failed += 1
            time.sleep(0.2)
        time.sleep(0.05)
with open(os.path.join(out, "done"), "w") as handle:
    json.dump({"failed_attempts": failed, "most_failed_for_one_write": most_failed_for_one_write, "last": i}, handle)
