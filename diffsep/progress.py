"""Progress: a tqdm bar on a terminal, plain periodic lines anywhere else (a job's log file).

tqdm redraws its bar with carriage returns, which a log file keeps as one unreadable line; a job's
log gets instead one line per ``every`` seconds (``desc: 1200/4000 (30 %), 41 s, loss=0.1234``) and
one when the loop ends. :func:`progress` takes tqdm's arguments that the package uses. The
environment variable ``DIFFSEP_PROGRESS_EVERY`` (seconds, > 0) sets the default interval, e.g. to
watch a long job's log more closely.
"""

from __future__ import annotations

import math
import os
import sys
import time

__all__ = ["progress", "PlainProgress", "EVERY_SECONDS", "default_every"]

EVERY_SECONDS = 30.0  # seconds between two plain progress lines (DIFFSEP_PROGRESS_EVERY overrides)


def default_every() -> float:
    """``DIFFSEP_PROGRESS_EVERY`` when set to a positive number, else :data:`EVERY_SECONDS`."""
    raw = os.environ.get("DIFFSEP_PROGRESS_EVERY")
    if raw is None or raw == "":
        return EVERY_SECONDS
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"DIFFSEP_PROGRESS_EVERY must be a positive number of seconds, got {raw!r}")
    return v


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(iterable=None, *, total=None, desc: str = "", disable: bool = False, stream=None,
             every: float | None = None, **tqdm_kwargs):
    """A progress object with tqdm's ``update``, ``set_postfix`` and ``close`` (iterable when
    ``iterable`` is given): tqdm when ``stream`` (default ``sys.stderr``) is a terminal, else
    :class:`PlainProgress`."""
    stream = sys.stderr if stream is None else stream
    every = default_every() if every is None else every
    if not disable and _is_tty(stream):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, file=stream, **tqdm_kwargs)
    return PlainProgress(iterable, total=total, desc=desc, disable=disable, stream=stream, every=every,
                         initial=tqdm_kwargs.get("initial", 0), leave=tqdm_kwargs.get("leave", True))


class PlainProgress:
    """One plain line per ``every`` seconds, and one at the end when ``leave`` or when the loop lasted
    long enough to print a line (nothing when ``disable``)."""

    def __init__(self, iterable=None, *, total=None, desc="", disable=False, stream=None,
                 every=EVERY_SECONDS, initial=0, leave=True):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.disable, self.every = total, desc, disable, every
        self.stream = sys.stderr if stream is None else stream
        self.n = self._start = initial
        self.postfix = ""
        self.leave, self._printed = leave, False
        self.t0 = self._last = time.monotonic()
        self._closed = False

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if not self.disable and now - self._last >= self.every:
            self._last = now
            self._line()

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh=True) -> None:
        self.postfix = s

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.disable and self.n > self._start and (self.leave or self._printed):
            self._line(end=True)

    def _line(self, end: bool = False) -> None:
        self._printed = True
        done = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f} %)" if self.total else f"{self.n}"
        parts = [f"{self.desc or 'progress'}: {done}", f"{time.monotonic() - self.t0:.0f} s"]
        if self.postfix:
            parts.append(self.postfix)
        if end:
            parts.append("done")
        print(", ".join(parts), file=self.stream, flush=True)
