"""Child processes never outlive the app: each watches its parent and ends with it.

A thread waits on the parent's process sentinel (multiprocessing.parent_process(), portable)
and ends this process within a fraction of a second of the parent's death, however it died
(kill -9 included), so no worker is left behind, reparented to init, using memory and CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import threading


def exit_with_parent() -> None:
    """In a child started by multiprocessing: end this process as soon as the parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel closes: it exited or was killed
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
