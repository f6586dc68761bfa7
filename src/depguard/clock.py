"""depguard's one clock, and how far into the future a feed timestamp may be.

A record dated in the future is not a curiosity: the rollback check compares ``modified``
timestamps, so one copy dated 2999 that a client accepted would make every honest feed look
"older" and be refused as a replay until someone passes ``--allow-rollback``. Every gate that
judges timestamps (``feed validate``, ``feed build``, the consumer gate of every client, the
rollback anchor) asks this module, with ``now`` passed explicitly where a caller (a test, a
replay) needs another moment; nothing else in depguard reads the wall clock for that purpose.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["MAX_FUTURE_SKEW", "is_future", "now"]

#: How far past the current time a ``published``/``modified``/``withdrawn`` timestamp may be:
#: a publisher's clock may run ahead and time zones get mixed up, a day covers both; anything
#: later is refused as a future-dated record.
MAX_FUTURE_SKEW = _dt.timedelta(hours=24)


def now() -> _dt.datetime:
    """The current UTC time to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def is_future(moment: _dt.datetime, at: _dt.datetime | None = None) -> bool:
    """Whether ``moment`` lies more than :data:`MAX_FUTURE_SKEW` after ``at`` (default: :func:`now`)."""
    return moment > (at if at is not None else now()) + MAX_FUTURE_SKEW
