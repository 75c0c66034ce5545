"""The garbage collector, tuned once the process is serving.

Start-up builds some 90,000 objects that live as long as the process (modules, Bolt's app and its
listeners, settings, clients). CPython's cyclic collector walks all of them on every full collection,
and a burst of commands triggers those: in `benchmarks/ack_latency.py` (200 `/meet new` at once) the
collector took about 150 ms of the burst, a full collection alone about 70 ms, all of it on the event
loop. `gc.freeze()` moves what start-up built out of the collector's reach (it is still freed by
reference counting if dropped). A young collection walks every young object still alive, which during
a burst is mostly the requests in flight, so its cost hardly depends on how many allocations came
before it: a threshold of 50,000 instead of 700 makes them rare. The same burst then makes one young
collection of 30-45 ms, where the defaults made 122 young, 11 middle and 1 full collection (about
150 ms). What dies young is freed by reference counting as before.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
_settled = False


def settle() -> None:
    """Freeze what start-up built and raise the young threshold: once per process (a test run starts many
    runtimes; only the first start-up's heap is worth freezing)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()  # start-up's garbage goes now, not into the frozen generation
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
