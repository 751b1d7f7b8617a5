"""The time to rebuild every distribution view from 100,000 events in cluster mode: bench.rebuild
with --cluster (three brokers, three replicas a topic), against the raw consume of the same
events on the same cluster.

    uv run python -m bench.run rebuild_cluster [--events 100000]

Its own name, so that its result and machine record sit beside the one-process run's in the
report (bench/results/rebuild_cluster-<time>.json).
"""

from __future__ import annotations

import sys

from bench import rebuild

if __name__ == "__main__":
    sys.argv.append("--cluster")
    rebuild.main()
