#!/usr/bin/env python3
"""Event benchmark steps for bench/events.sh, each printing one line of numbers.

  deliver BASE TOKEN HOOK_URL N    create an endpoint, make N changes (each queues one event), wait
                                   until all are delivered: "seconds events"
  floor HOOK_URL N                 POST N event-sized bodies to the same receiver, 8 at a time,
                                   with no hub: "seconds events"
"""
import concurrent.futures
import http.client
import json
import sys
import time
import urllib.request
from urllib.parse import urlparse

from sync import call


def delivered(base):
    with urllib.request.urlopen(f"{base}/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith('connector_hub_event_deliveries_total{outcome="delivered"}'):
                return int(float(line.split()[-1]))
    return 0


def deliver(base, token, hook_url, n):
    call("POST", f"{base}/v1/webhook-endpoints", token, {"url": hook_url, "events": ["connector.created"]})
    body = {"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242424242"}, "sync_frequency": "manual"}
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: call("POST", f"{base}/v1/connectors", token, body), range(n)))
    while delivered(base) < n:
        time.sleep(0.02)
    print(f"{time.monotonic() - started:.2f} {n}")


def floor(hook_url, n):
    parsed = urlparse(hook_url)
    body = json.dumps({"type": "connector.created", "timestamp": "2026-11-29T00:00:00Z",
                       "data": {"connector": {"connector_id": "conn-" + "0" * 20}}}).encode()

    def post(count):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
        for _ in range(count):
            connection.request("POST", parsed.path, body, {"content-type": "application/json"})
            connection.getresponse().read()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(post, [n // 8] * 8))
    print(f"{time.monotonic() - started:.2f} {n // 8 * 8}")


if __name__ == "__main__":
    step, args = sys.argv[1], sys.argv[2:]
    if step == "deliver":
        deliver(args[0], args[1], args[2], int(args[3]))
    elif step == "floor":
        floor(args[0], int(args[1]))
    else:
        sys.exit(__doc__)
