"""Test helper: stop a server subprocess that a fixture started."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Ask ``process`` to terminate, wait up to ``timeout`` seconds, then kill it and reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
