"""An orphaned bronze job notices that the process that launched it is gone (also when unreaped)."""

from __future__ import annotations

import subprocess
import sys
import time

from streaming.launcher_watch import launcher_gone


def test_a_live_launcher_is_there_a_dead_one_is_gone_even_before_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not launcher_gone(child.pid)
        child.kill()
        deadline = time.monotonic() + 10
        while not launcher_gone(child.pid):  # a zombie until `wait`: already gone
            assert time.monotonic() < deadline, "a killed, unreaped launcher still counts as alive"
            time.sleep(0.05)
        assert child.poll() is not None  # reaped only now
        assert launcher_gone(child.pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
