"""`vigil worker` with another workflow cache size, for the memory benchmark:

    BENCH_MAX_CACHED_WORKFLOWS=10000 python -m bench.vigil_worker

Everything else is `vigil.worker.run_worker` as `vigil worker` runs it.
"""

import asyncio
import functools
import logging
import os

from vigil import worker

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cached = int(os.environ["BENCH_MAX_CACHED_WORKFLOWS"])
    worker.build_worker = functools.partial(worker.build_worker, max_cached_workflows=cached)
    asyncio.run(worker.run_worker())
