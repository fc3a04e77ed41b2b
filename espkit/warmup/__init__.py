"""IP warmup schedules as data: the cap per IP on each sending day, the schedules ESPs publish
(with their sources) and sending days counted from the days an IP actually sent.

Pure values and arithmetic: nothing here talks to an ESP.

    >>> from espkit.warmup import schedule
    >>> schedule("sparkpost-manual").capacity(day=3, ips=2)
    2000
"""

from __future__ import annotations

from espkit.warmup.days import (
    DEFAULT_PAUSE_RULES,
    SENDGRID_RESTART,
    WEEK_STEP_BACK,
    PauseRule,
    SendingDays,
)
from espkit.warmup.model import AfterLast, Schedule
from espkit.warmup.published import schedule, schedules

__all__ = [
    "DEFAULT_PAUSE_RULES",
    "SENDGRID_RESTART",
    "WEEK_STEP_BACK",
    "AfterLast",
    "PauseRule",
    "Schedule",
    "SendingDays",
    "schedule",
    "schedules",
]
