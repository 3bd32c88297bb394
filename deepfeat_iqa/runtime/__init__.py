"""Where and how computations run: device, precision (one rule), threads, progress, Dask clusters, the machine.

Every stage asks here instead of deciding for itself, so a choice such as "bf16 only where the CPU runs it
natively" is made once for extraction, training, prediction and the CLI alike.
"""
