"""Drive the Hugging Face bucket double with the official client.

huggingface_hub 2.4 (PyPI), pointed at the double by HF_ENDPOINT; prints one
JSON line of what the client made of each answer. Run by hub_client.rs.
"""

import json
import os
import sys

from huggingface_hub import HfApi, HfFileSystem

endpoint = os.environ["HF_ENDPOINT"]
bucket = os.environ["BUCKET"]
api = HfApi(endpoint=endpoint, token=False)
out = {}

tree = list(api.list_bucket_tree(bucket, prefix="day1", recursive=True))
out["tree"] = sorted(
    [e.type, e.path, getattr(e, "size", None), getattr(e, "xet_hash", None) is not None]
    for e in tree
)
flat = list(api.list_bucket_tree(bucket, recursive=False))
out["top"] = sorted([e.type, e.path] for e in flat)

infos = list(api.get_bucket_paths_info(bucket, ["day1/a.mp4", "missing.mp4", "day1"]))
out["paths_info"] = [[i.path, i.size, len(i.xet_hash)] for i in infos]

meta = api.get_bucket_file_metadata(bucket, "day1/a.mp4")
out["metadata"] = {"size": meta.size, "xet_hash": meta.xet_file_data.file_hash}

fs = HfFileSystem(endpoint=endpoint, token=False, skip_instance_cache=True)
with fs.open(f"hf://buckets/{bucket}/day1/a.mp4", "rb") as f:
    f.seek(4)
    out["range"] = f.read(8).hex()
out["info_size"] = fs.info(f"hf://buckets/{bucket}/day1/a.mp4")["size"]

print(json.dumps(out))
sys.stdout.flush()
