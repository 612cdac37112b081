"""A client that writes continuously to the cluster, bounded in count and time, recording every acknowledged write.

python3 writer.py OUT_DIR COUNT SECONDS ENDPOINT...   (stops early when OUT_DIR/stop exists)
"""
import base64
import json
import os
import sys
import time
import urllib.request

out, count, seconds, endpoints = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
deadline = time.monotonic() + seconds
acked = open(os.path.join(out, "acked"), "a")
failed = 0
turn = 0
for i in range(count):
    if time.monotonic() > deadline or os.path.exists(os.path.join(out, "stop")):
        break
    key = "/writer/%06d" % i
    body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(b"written %d" % i).decode()}).encode()
    for _attempt in range(20):
        endpoint = endpoints[turn % len(endpoints)]
        try:
            request = urllib.request.Request(endpoint + "/v3/kv/put", data=body, method="POST")
            with urllib.request.urlopen(request, timeout=3) as response:
                json.load(response)
            acked.write(key + "\n")
            acked.flush()
            break
        except (OSError, ValueError):
            failed += 1
            turn += 1
            time.sleep(0.2)
    time.sleep(0.05)
with open(os.path.join(out, "done"), "w") as handle:
    json.dump({"failed_attempts": failed, "last": i}, handle)
