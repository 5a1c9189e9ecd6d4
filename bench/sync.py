#!/usr/bin/env python3
"""Sync benchmark steps, each printing one line of numbers for bench/sync.sh.

  hub BASE TOKEN PID CREATE_JSON [SYNC_JSON]
                                   create a connector, sync it, wait: "seconds records peak_rss_kb"
  floor URL KEY                    page the fake Stripe's customers with no hub: "seconds records"
  tap CONFIG_JSON STREAM_ID        Meltano's tap-postgres reads one table: "seconds records peak_rss_kb"
"""
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
import http.client
from urllib.parse import urlparse


def call(method, url, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def hub(base, token, pid, create, sync="{}"):
    connector = call("POST", f"{base}/v1/connectors", token, json.loads(create))["connector_id"]
    started = time.monotonic()
    run = call("POST", f"{base}/v1/connectors/{connector}/sync", token, json.loads(sync))["run_id"]
    while True:
        state = call("GET", f"{base}/v1/connectors/{connector}/syncs/{run}", token)
        if state["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    if state["status"] != "succeeded":
        sys.exit(f"sync failed: {state}")
    records = sum(s["added"] + s["updated"] for s in state["streams"].values())
    print(f"{seconds:.2f} {records} {peak_kb(pid)}")


def floor(url, key):
    """Every page of the fake Stripe's customers over one keep-alive connection, parsed: what
    reading the data costs before anything is done with it."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
    started = time.monotonic()
    after, records = None, 0
    while True:
        path = f"{parsed.path}/v1/customers?limit=100" + (f"&starting_after={after}" if after else "")
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        page = json.loads(connection.getresponse().read())
        records += len(page["data"])
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    print(f"{time.monotonic() - started:.2f} {records}")


def tap(config, stream_id):
    venv = os.path.join(os.path.dirname(sys.executable))
    tap_bin = os.path.join(venv, "tap-postgres")
    catalog = json.loads(subprocess.run([tap_bin, "--config", config, "--discover"], check=True, capture_output=True).stdout)
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] == stream_id
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = chosen
    catalog_path = config + ".catalog.json"
    with open(catalog_path, "w") as f:
        json.dump(catalog, f)
    started = time.monotonic()
    process = subprocess.Popen([tap_bin, "--config", config, "--catalog", catalog_path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    records = 0
    for line in process.stdout:
        if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
            records += 1
    process.wait()
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{seconds:.2f} {records} {peak}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"hub": hub, "floor": floor, "tap": tap}[command](*args)
