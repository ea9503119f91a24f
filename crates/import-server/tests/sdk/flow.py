"""The documented cloud-import flow, driven by the official Python SDK against our server.

Reads BASE_URL, API_KEY, S3_ENDPOINT, ACCESS_KEY, SECRET_KEY and BUCKET from the
environment; prints one JSON line with what it saw.
"""
import json
import os
import time

from nomadic import NomadicAI

env = os.environ
client = NomadicAI(api_key=env["API_KEY"], base_url=env["BASE_URL"])
auth = client.verify_auth()

integration = client.cloud_integrations.add(
    type="s3",
    name="local R2",
    bucket=env["BUCKET"],
    credentials={"accessKeyId": env["ACCESS_KEY"], "secretAccessKey": env["SECRET_KEY"]},
    endpoint_url=env["S3_ENDPOINT"],
)

uris = [f"s3://{env['BUCKET']}/{key}" for key in env["KEYS"].split(",")]
started = client.upload(uris, folder="fleet_uploads", scope="org", integration_id=integration["id"])
job_id = started["import_job_id"]

# Poll the per-video pages until ready: ids reach total and every row is terminal.
terminal = {"UPLOADED", "UPLOADING_FAILED"}
deadline = time.time() + 60
polls = 0
while True:
    polls += 1
    seen, cursor, total = {}, None, None
    while True:
        page = client.get_import_job_videos(job_id, limit=2, cursor=cursor)
        total = page["total"]
        for row in page["videos"]:
            seen[row["video_id"]] = row
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    if len(seen) >= total and all(r["status"] in terminal for r in seen.values()):
        break
    if time.time() > deadline:
        raise SystemExit(f"not ready after 60 s: {seen}")
    time.sleep(0.5)

job = client.wait_for_import_job(job_id, timeout=30, poll_interval=1)
legacy = client.get_import_job_uploaded_video_ids(job_id, limit=500)
integrations = client.cloud_integrations.list(type="s3")
folder = client.get_folder("fleet_uploads", scope="org")

print(json.dumps({
    "auth": auth,
    "integration": integration,
    "job_id": job_id,
    "polls": polls,
    "rows": list(seen.values()),
    "job": job,
    "legacy_count": len(legacy["videos"]),
    "integrations": integrations,
    "folder": folder,
}))
