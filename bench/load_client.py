"""A cheap HTTP load client for the benchmarks, run in a process of its own.

`bench_slack_ack` used to send its 50 parallel requests from 50 Python threads in the
bench's own process: on a 2-core host those threads took CPU and the GIL from the server
they measured (the client alone against a trivial app showed p99 ~65 ms). Here one asyncio
event loop in a separate process keeps `parallel` requests in flight at once, each on a
new connection over raw streams (no HTTP library), and times each from the start of its
connect to the last byte of the response.

    results = run_load(port, requests, parallel=50)   # [(milliseconds, status or failure)]

where each request is (path, headers, body), sent as an HTTP/1.1 POST with
`Connection: close`. The parent talks to the child over stdin and stdout in JSON.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

Request = tuple[str, dict[str, str], str]  # path, headers, body
Result = tuple[float, int | str]  # milliseconds, status or the failure's name

REPO = Path(__file__).resolve().parents[1]


def run_load(port: int, requests: list[Request], parallel: int) -> list[Result]:
    """Send every request to 127.0.0.1:`port`, `parallel` at a time, from a child process."""
    payload = json.dumps({"port": port, "parallel": parallel, "requests": requests})
    done = subprocess.run(
        [sys.executable, "-m", "bench.load_client"],
        cwd=REPO,
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load client failed: {done.stderr[-2000:]}")
    return [(ms, outcome) for ms, outcome in json.loads(done.stdout)]


def encode(port: int, request: Request) -> bytes:
    path, headers, body = request
    data = body.encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def one(port: int, raw: bytes) -> Result:
    """One request on a new connection: (milliseconds, status or the failure's name)."""
    started = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            await reader.read()  # no length (chunked or close-delimited): up to the close
        else:
            await reader.readexactly(length)
        outcome: int | str = status
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as err:
        outcome = type(err).__name__
    finally:
        if writer is not None:
            writer.close()
    return (time.perf_counter() - started) * 1000, outcome


async def load(port: int, requests: list[Request], parallel: int) -> list[Result]:
    raws = [encode(port, request) for request in requests]  # encoded before the clock runs
    results: list[Result | None] = [None] * len(raws)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(raws)):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            results[index] = await one(port, raws[index])

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return [result for result in results if result is not None]


def main() -> int:
    job = json.loads(sys.stdin.read())
    requests = [(path, headers, body) for path, headers, body in job["requests"]]
    results = asyncio.run(load(job["port"], requests, job["parallel"]))
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
