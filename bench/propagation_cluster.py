"""Propagation latency in cluster mode (`make run-cluster`, through its front): bench.propagation
with --cluster, against the raw round trip on the cluster's brokers (three replicas, acks=all).

    uv run python -m bench.run propagation_cluster [the options of bench.propagation]

Its own name, so that its result and machine record sit beside the one-process run's in the
report (bench/results/propagation_cluster.json).
"""

from __future__ import annotations

import sys

from bench import propagation

if __name__ == "__main__":
    sys.argv.append("--cluster")
    propagation.main()
