"""Is the process that launched this job still there? (An orphaned `spark-submit` must stop.)

Dagster Pipes starts `spark-submit` as a child of the run's worker. When that worker dies (SIGKILL,
a host restart of the code server, the dead-run reaper), nothing stops the child: `spark-submit`
(a JVM that started this Python driver) keeps its streaming query, and its checkpoint lease,
alive. The launcher passes its pid (`--launcher-pid`); the job polls it every second while its
query runs and stops cleanly (query stopped between batches, lease released) once it is gone.

Why the pid and not the parent: this driver's parent is the `spark-submit` JVM, whose own parent
becomes init (or a subreaper) when the worker dies; the worker's pid is what identifies the
launching run. A dead process that was not reaped yet (a zombie) counts as gone. Pid reuse within
the second between two polls is not a practical concern.
"""

from __future__ import annotations

import os
from pathlib import Path


def launcher_gone(pid: int) -> bool:
    """True once process `pid` has exited (or is a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by another user
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")
