#!/usr/bin/env python3
"""Smoke test for the local infrastructure: the broker and store contract suites against
whatever is running.

    python deploy/local/smoke.py [kafka] [store]
        [--kafka-bootstrap 127.0.0.1:19092] [--store-url mongodb://127.0.0.1:27017]

Runs tests/contract/test_broker_contract.py and tests/contract/test_store_contract.py (what
kitflow relies on of Kafka and of the store; the same suites `make test` runs against the
tests' own servers) with pytest from the project venv, pointed at the running servers through
KITFLOW_TEST_KAFKA_BOOTSTRAP and KITFLOW_TEST_STORE_URL. Start the infrastructure first
(`deploy/local/kitflow-local start`). Every test works in topics and databases of its own and
removes them, so it is safe against the `make run` instance. Exit status: pytest's (0: all pass).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES = {
    "kafka": "tests/contract/test_broker_contract.py",
    "store": "tests/contract/test_store_contract.py",
}


def main() -> int:
    kafka_port = os.environ.get("KITFLOW_KAFKA_PORT", "19092")
    store_port = os.environ.get("KITFLOW_STORE_PORT", "27017")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("components", nargs="*", metavar="kafka|store", help="default: both")
    parser.add_argument("--kafka-bootstrap", default=f"127.0.0.1:{kafka_port}")
    parser.add_argument("--store-url", default=f"mongodb://127.0.0.1:{store_port}")
    args = parser.parse_args()
    for component in args.components:
        if component not in SUITES:
            parser.error(f"unknown component {component!r}")
    env = {
        **os.environ,
        # Both name the running servers: the tests then start nothing of their own.
        "KITFLOW_TEST_KAFKA_BOOTSTRAP": args.kafka_bootstrap,
        "KITFLOW_TEST_STORE_URL": args.store_url,
    }
    suites = [SUITES[c] for c in args.components or SUITES]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
