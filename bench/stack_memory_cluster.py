"""Memory of the whole stack in cluster mode (`make run-cluster`: every service instance and
the front, the three brokers and the store apart): bench.stack_memory with --cluster.

    uv run python -m bench.run stack_memory_cluster [the options of bench.stack_memory]

Its own name, so that its result and machine record sit beside the one-process run's in the
report (bench/results/stack_memory_cluster.json).
"""

from __future__ import annotations

import sys

from bench import stack_memory

if __name__ == "__main__":
    sys.argv.append("--cluster")
    stack_memory.main()
