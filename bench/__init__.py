"""Myna's benchmarks: ``python -m bench [inbox|fanout|memory|client]``.

Every figure is printed next to a ceiling measured in the same run on the same machine
(see /work/shared/reference/performance.md for the reference figures), as a ratio. Only
loopback traffic; every loop is bounded in count and time.
"""
