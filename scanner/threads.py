"""One compute thread per process; parallelism comes from worker processes (STACK.md)."""

from __future__ import annotations

import os

# OPENCV_FOR_THREADS_NUM: OpenCV's own thread pool (not OpenMP) otherwise takes every core for its filters
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "OPENCV_FOR_THREADS_NUM")


def limit_threads() -> None:
    """Set the thread variables that numpy, OpenMP and Tesseract read when they load.

    Multi-threaded runtimes swing wildly when the second core is busy. Call this before numpy or
    any engine is imported (front ends and worker initializers do); variables already set win.
    """
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
