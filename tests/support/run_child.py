"""A segmentation run in its own process that pauses at a chosen point, for the process tests.

Settings come from ``SHOPCRM_SETTINGS`` like any deployment. The run pauses when it reaches
``RUN_CHILD_STAGE`` (``mine``, or ``store`` with ``RUN_CHILD_AT`` = the share of memberships
already written in the open transaction), creates ``RUN_CHILD_MARKER`` and waits until
``RUN_CHILD_RELEASE`` exists (the test may kill it instead). ``RUN_CHILD_BATCH`` sets the
membership batch size, so that "half-way through storing" is a real point in the writes.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path


def main() -> int:
    from shopcrm import create_app
    from shopcrm.segmentation import run as pipeline
    from shopcrm.segmentation import store

    store.BATCH = int(os.environ.get("RUN_CHILD_BATCH", store.BATCH))
    stage, at = os.environ["RUN_CHILD_STAGE"], float(os.environ.get("RUN_CHILD_AT", "0"))
    marker, release = Path(os.environ["RUN_CHILD_MARKER"]), Path(os.environ["RUN_CHILD_RELEASE"])
    store_start = pipeline.STAGES["store"]
    paused = False

    def progress(current: str, fraction: float) -> None:
        nonlocal paused
        if paused or current != stage:
            return
        if stage == "store" and (fraction - store_start) / (1 - store_start) < at:
            return
        paused = True
        marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    app = create_app()
    with app.app_context():
        run = pipeline.run_segmentation(as_of=datetime(2026, 11, 1), requested_by="child", progress=progress)
        print(f"run #{run.id} {run.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
