"""Start a child as a terminal would start a foreground command, whatever started the tests.

A shell hands a background job SIGINT ignored, and an ignored signal stays ignored across exec; a thread
that blocked a signal hands that mask to what it spawns. Either way Ctrl-C would never reach the child,
and a test of what Ctrl-C does would test the test runner's environment instead of leakscan.
"""

from __future__ import annotations

import signal


def like_a_terminal() -> None:
    """`preexec_fn` for Popen: SIGINT and SIGTERM at their defaults, no signal blocked."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
