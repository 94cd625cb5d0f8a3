"""Run by the launcher test: rank 1 raises while rank 0 waits in a
collective; the launcher must abort the job (no hang)."""

import numpy as np

import hookfit.distribute as hd

if hd.rank() == 1:
    raise RuntimeError("rank 1 fails on purpose")
hd.world().allreduce_sum_(np.zeros(4, np.float32))  # would wait forever
print("rank 0 passed the allreduce: the job did not abort", flush=True)
