#!/usr/bin/env python3
"""Wait until the local Kafka broker and/or MongoDB-wire store answer real client calls.

    python deploy/local/wait_ready.py [kafka] [store] [--timeout 60]
        [--kafka-bootstrap 127.0.0.1:19092] [--store-url mongodb://127.0.0.1:27017]
        [--watch-pid kafka=1234 --watch-pid store=5678] [--quiet] [--check-imports]

Kafka is ready when an admin client bootstraps, lists topics and sees a broker in the cluster
description; the store is ready when `ping` answers. With no component named, both are checked.
Defaults come from KITFLOW_KAFKA_PORT (19092) and KITFLOW_STORE_PORT (27017).
`--watch-pid NAME=PID` fails fast when that process exits before it is ready.

Exit status: 0 when everything named is ready, 1 on timeout / a process that exited (the message
names what did not come up), 2 when aiokafka or pymongo cannot be imported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time

COMPONENTS = ("kafka", "store")


def _parse_args(argv: list[str]) -> argparse.Namespace:
    kafka_port = os.environ.get("KITFLOW_KAFKA_PORT", "19092")
    store_port = os.environ.get("KITFLOW_STORE_PORT", "27017")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "components", nargs="*", metavar="kafka|store", help="what to wait for (default: both)"
    )
    p.add_argument(
        "--timeout", type=float, default=float(os.environ.get("KITFLOW_READY_TIMEOUT", 60))
    )
    p.add_argument("--kafka-bootstrap", default=f"127.0.0.1:{kafka_port}")
    p.add_argument("--store-url", default=f"mongodb://127.0.0.1:{store_port}")
    p.add_argument("--watch-pid", action="append", default=[], metavar="NAME=PID")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument(
        "--check-imports",
        action="store_true",
        help="only check that aiokafka/pymongo can be imported, then exit",
    )
    args = p.parse_args(argv)
    for c in args.components:
        if c not in COMPONENTS:
            p.error(f"unknown component {c!r} (expected kafka or store)")
    args.components = list(dict.fromkeys(args.components or COMPONENTS))
    watched: dict[str, int] = {}
    for item in args.watch_pid:
        name, _, pid = item.partition("=")
        if name not in COMPONENTS or not pid.isdigit():
            p.error(f"--watch-pid expects kafka=PID or store=PID, got {item!r}")
        watched[name] = int(pid)
    args.watch_pid = watched
    return args


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) still answers kill(0)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class NotReady(Exception):
    pass


async def _check_kafka(bootstrap: str) -> str:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, connections_max_idle_ms=10000
    )
    try:
        await admin.start()
        topics = await admin.list_topics()
        cluster = await admin.describe_cluster()
        brokers = cluster.get("brokers") or []
        if not brokers:
            raise NotReady("no broker registered yet")
        return (
            f"{len(brokers)} broker(s), {len(topics)} topic(s), cluster {cluster.get('cluster_id')}"
        )
    finally:
        with contextlib.suppress(Exception):  # closing a half-started client
            await admin.close()


async def _check_store(url: str) -> str:
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(
        url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000, socketTimeoutMS=5000
    )
    try:
        reply = await client.admin.command("ping")
        if reply.get("ok") != 1:
            raise NotReady(f"ping answered {reply!r}")
        info = await client.server_info()
        return f"ping ok, reports MongoDB {info.get('version')}"
    finally:
        await client.close()


async def _wait(
    name: str, check, target: str, args: argparse.Namespace, t0: float
) -> tuple[bool, str]:
    deadline = t0 + args.timeout
    last_error = "no attempt made"
    pid = args.watch_pid.get(name)
    while True:
        if pid is not None and not _alive(pid):
            return (
                False,
                f"{name} process {pid} exited before it was ready (last error: {last_error})",
            )
        try:
            detail = await asyncio.wait_for(
                check(target), timeout=max(1.0, min(10.0, deadline - time.monotonic()))
            )
        except Exception as exc:
            last_error = f"{type(exc).__name__}: {exc}".strip()
        else:
            if not args.quiet:
                print(
                    f"{name} ready at {target} after {time.monotonic() - t0:.1f}s ({detail})",
                    flush=True,
                )
            return True, ""
        if time.monotonic() >= deadline:
            return (
                False,
                f"{name} at {target} not ready after {args.timeout:.0f}s "
                f"(last error: {last_error})",
            )
        await asyncio.sleep(0.25)


async def _main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    jobs = []
    if "kafka" in args.components:
        jobs.append(_wait("kafka", _check_kafka, args.kafka_bootstrap, args, t0))
    if "store" in args.components:
        jobs.append(_wait("store", _check_store, args.store_url, args, t0))
    results = await asyncio.gather(*jobs)
    failures = [msg for ok, msg in results if not ok]
    for msg in failures:
        print(f"wait_ready: {msg}", file=sys.stderr, flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    missing = []
    for module, component in (("aiokafka", "kafka"), ("pymongo", "store")):
        if component not in args.components:
            continue
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        print(
            f"wait_ready: {sys.executable} cannot import {', '.join(missing)}; "
            "run it with the project's venv python (set PYTHON=.venv/bin/python) "
            "or pip install aiokafka pymongo",
            file=sys.stderr,
        )
        return 2
    if args.check_imports:
        return 0
    # aiokafka logs every refused connection at ERROR while the broker is still starting
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
