"""One compute thread per process (scanner/threads.py): parallelism comes from worker processes."""

from __future__ import annotations

import os
import subprocess
import sys


def test_front_ends_leave_opencv_one_thread() -> None:
    """OpenCV's own pool (not OpenMP) takes every core unless OPENCV_FOR_THREADS_NUM says otherwise: the note,
    wall and board finders then cost CPU time on a second thread while another worker needs the core."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_FOR_THREADS_NUM", "OMP_NUM_THREADS")}
    code = ("from scanner.threads import limit_threads; limit_threads(); import cv2, os; "
            "print(cv2.getNumThreads(), os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]
