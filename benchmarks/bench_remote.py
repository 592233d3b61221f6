"""Side-by-side benchmark: logging to s3:// with eventwriter, tensorboardX and torch on one moto server.

A tiny threaded HTTP proxy in front of the S3 API server counts every request and its body bytes.
Each writer logs the same scalars for ``--intervals`` flush intervals (``flush()`` marks an
interval), then closes. Reported per writer: request-body bytes uploaded, requests, bytes finally
stored, uploaded/stored, seconds spent in the logging calls, and seconds until one event logged
without flush() is visible in the store (capped at ``--visible-cap``).

Run: .venv/bin/python benchmarks/bench_remote.py [--intervals 60] [--per-interval 100]
No assertions: the figures go to README.md ("Logging to object storage").
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


class CountingProxy:
    """Forwards HTTP requests to ``upstream_port``; counts requests and request-body bytes."""

    def __init__(self, upstream_port: int) -> None:
        self.requests = 0  # uploads: PUT and POST
        self.body_bytes = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            break
                        body += chunk
                else:
                    body = self.rfile.read(length) if length else b""
                if self.command in ("PUT", "POST"):
                    with proxy.lock:
                        proxy.requests += 1
                        proxy.body_bytes += len(body)
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return self.requests, self.body_bytes


def stored_bytes(client, bucket: str, prefix: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def steps_in_store(url: str) -> set:
    from eventwriter.reader import scalars

    try:
        runs = scalars(url)
    except Exception:
        return set()
    return {p.step for tags in runs.values() for p in tags.get("probe", [])}


def run_writer(name, make, url, args, proxy, client, bucket, prefix):
    before = proxy.snapshot()
    writer = make(url)
    in_calls = 0.0
    step = 0
    for _ in range(args.intervals):
        start = time.perf_counter()
        for _ in range(args.per_interval):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            step += 1
        writer.flush()
        in_calls += time.perf_counter() - start
    # visibility: one event logged without flush()
    writer.add_scalar("probe", 1.0, 7)
    logged = time.monotonic()
    visible = None
    while time.monotonic() - logged < args.visible_cap:
        if 7 in steps_in_store(url):
            visible = time.monotonic() - logged
            break
        time.sleep(0.25)
    start = time.perf_counter()
    writer.close()
    in_calls += time.perf_counter() - start
    after = proxy.snapshot()
    stored = stored_bytes(client, bucket, prefix)
    return {
        "writer": name,
        "requests": after[0] - before[0],
        "uploaded": after[1] - before[1],
        "stored": stored,
        "in_calls": in_calls,
        "visible": visible,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=60)
    parser.add_argument("--per-interval", type=int, default=100)
    parser.add_argument("--visible-cap", type=float, default=30.0)
    args = parser.parse_args()

    import boto3
    from stores import MotoS3

    server = MotoS3().start()
    proxy = CountingProxy(server.port)
    endpoint = f"http://127.0.0.1:{proxy.port}"
    os.environ.update(server.env)
    os.environ.update({"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL": endpoint, "S3_ENDPOINT": endpoint,
                       "S3_USE_HTTPS": "0", "S3_VERIFY_SSL": "0"})
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.port}", aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    bucket = server.bucket()
    writers = []

    from eventwriter import SummaryWriter as Ours

    writers.append(("eventwriter", Ours))
    try:
        from tensorboardX import SummaryWriter as TBX

        writers.append(("tensorboardX", TBX))
    except ImportError:
        print("tensorboardX not installed: skipped")
    try:
        from torch.utils.tensorboard import SummaryWriter as Torch

        writers.append(("torch", Torch))
    except ImportError:
        print("torch not installed: skipped")
    results = []
    try:
        for name, cls in writers:
            prefix = f"{name}/run"
            try:
                results.append(run_writer(name, cls, f"s3://{bucket}/{prefix}", args, proxy, client, bucket, prefix))
            except Exception as exc:  # report, keep benchmarking the others
                print(f"{name}: failed: {type(exc).__name__}: {exc}")
    finally:
        proxy.server.shutdown()
        server.stop()
    print(f"{args.intervals} flush intervals x {args.per_interval} scalars, S3 API (moto) behind a counting proxy")
    print(f"{'writer':<13} {'uploaded B':>11} {'uploads':>9} {'stored B':>9} {'up/stored':>9} {'in calls s':>10} {'visible s':>9}")
    for r in results:
        vis = f"{r['visible']:.1f}" if r["visible"] is not None else f">{args.visible_cap:g}"
        ratio = r["uploaded"] / r["stored"] if r["stored"] else float("nan")
        print(f"{r['writer']:<13} {r['uploaded']:>11} {r['requests']:>9} {r['stored']:>9} {ratio:>9.2f} {r['in_calls']:>10.3f} {vis:>9}")


if __name__ == "__main__":
    main()
