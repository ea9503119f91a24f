"""Walk every page of a job with the official Python SDK's get_import_job_videos loop.

Usage: python3 walk_sdk.py BASE_URL API_KEY JOB_ID; prints {"rows", "wall_s", "cpu_s", "requests"}.
"""
import json
import sys
import time

from nomadic import NomadicAI

base, key, job = sys.argv[1:4]
client = NomadicAI(api_key=key, base_url=base)
wall0, cpu0 = time.perf_counter(), time.process_time()
rows, cursor, requests = 0, None, 0
while True:
    page = client.get_import_job_videos(job, limit=1000, cursor=cursor)
    requests += 1
    rows += len(page["videos"])
    if not page["has_more"]:
        break
    cursor = page["next_cursor"]
print(json.dumps({"rows": rows, "wall_s": time.perf_counter() - wall0,
                  "cpu_s": time.process_time() - cpu0, "requests": requests}))
