"""Deploy events: the annotations the gem's dashboards draw (one every two hours or so)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..kinds import EVENTS
from ._catalogue import DEPLOYS_PER_HOUR
from ._encoding import RecordBatch, ruby_json
from ._timeline import Window, remaining_ttls, stream_rng, utc_datetime


def deploy_times(window: Window, seed: int) -> tuple[list[int], np.random.Generator]:
    """Sorted epoch seconds of the deploys in ``window`` (at least one), and the events stream
    positioned after drawing them (the events draw their version numbers from it)."""
    rng = stream_rng(seed, "events")
    count = max(1, round(window.seconds / 3600 * DEPLOYS_PER_HOUR))
    count = min(count, window.seconds)
    chosen = rng.choice(window.seconds, size=count, replace=False)
    return sorted((window.start + chosen).tolist()), rng


def event_batches(window: Window, seed: int) -> Iterator[RecordBatch]:
    """One batch: a deploy event for every :func:`deploy_times` (events never expire)."""
    epochs, rng = deploy_times(window, seed)
    keys, values = [], []
    for number, epoch in enumerate(epochs):
        sha = rng.bytes(4).hex()[:7]
        text = f"Deploy v2.{14 + number}.{int(rng.integers(0, 10))} ({sha})"
        keys.append(EVENTS.format_key({"datetimei": epoch}))
        values.append(
            ruby_json(
                {
                    "name": "deploy",
                    # Utils.from_datetimei(i) is Time.at(i, in: "+00:00"), as ActiveSupport's
                    # Time#to_json writes it.
                    "datetime": utc_datetime(epoch).strftime("%Y-%m-%dT%H:%M:%S.000+00:00"),
                    "datetimei": epoch,
                    "options": {
                        "borderColor": "#00E396",
                        "label": {
                            "borderColor": "#00E396",
                            "orientation": "horizontal",
                            "text": text,
                        },
                    },
                }
            )
        )
    yield RecordBatch(EVENTS, keys, values, remaining_ttls(EVENTS, np.array(epochs), window.end))
