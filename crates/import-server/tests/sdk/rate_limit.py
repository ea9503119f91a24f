"""The official Python SDK against a rate-limited server: more calls than the
key's burst, each of which must succeed (the SDK waits as `Retry-After` says).

Reads BASE_URL, API_KEY and CALLS from the environment; prints one JSON line.
"""
import json
import os
import time

from nomadic import NomadicAI

env = os.environ
client = NomadicAI(api_key=env["API_KEY"], base_url=env["BASE_URL"])
started = time.time()
ok = 0
for _ in range(int(env["CALLS"])):
    client.cloud_integrations.list(type="s3")
    ok += 1
print(json.dumps({"ok": ok, "seconds": round(time.time() - started, 2)}))
