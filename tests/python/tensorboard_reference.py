#!/usr/bin/env python3
"""Reads robustmsa's TensorBoard event files with TensorBoard's own readers (tests/core/
tensorboard_test.cc runs it; PyPI `tensorboard`, no TensorFlow needed).

Usage: tensorboard_reference.py DIR OUT.json

Writes {"scalars": {tag: [[step, value], ...]}, "files": [{"name", "first", "records"}]}:
the scalars as EventAccumulator serves them to the dashboard (after its restart purging), and per
event file (name order) what TensorBoard's record reader finds, which checks every record's
masked CRC-32C. Exit code 3 when tensorboard is not installed, 1 on a read error.
"""

import json
import os
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator, event_file_loader
except ImportError:
    sys.exit(3)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    logdir, out = sys.argv[1], sys.argv[2]
    files = []
    for name in sorted(os.listdir(logdir)):
        if "tfevents" not in name:
            continue
        # RawEventFileLoader yields the framed payloads; it raises on a corrupt frame or CRC.
        loader = event_file_loader.EventFileLoader(os.path.join(logdir, name))
        events = list(loader.Load())
        first = events[0].file_version if events else ""
        kinds = [e.WhichOneof("what") for e in events]
        files.append({"name": name, "first": first, "records": kinds})
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.SCALARS: 0}, purge_orphaned_data=True)
    acc.Reload()
    scalars = {
        tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }
    with open(out, "w") as f:
        json.dump({"scalars": scalars, "files": files, "file_version": acc.file_version}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
