"""The warmup schedules ESPs publish, as data, each with its source, and a conservative default
for ESPs that publish none.

The figures are copied from the documents named in each ``source`` (and pinned against them
in tests/warmup/test_schedules.py); where a document disagrees with itself, ``notes`` says
which figure was taken and why. Mailgun and Amazon SES run their own automatic warmups but
publish no per-day figures (Mailgun's API reports a plan's ``stage_limit`` and
``hourly_limit``; SES says only that its plan reaches 50,000 messages a day over 45 days), so
for them, and for a manual warmup anywhere, ``conservative`` is the default.
"""

from __future__ import annotations

from espkit.errors import ValidationError
from espkit.warmup.model import AfterLast, Schedule

SENDGRID_SOURCE = (
    "Twilio SendGrid, Warming Up an IP Address, \"Automated IP warmup hourly send schedule\" "
    "(Warmup Age (Days) 0-41 -> Hourly Email Limit): "
    "https://www.twilio.com/docs/sendgrid/ui/sending-email/warming-up-an-ip-address"
    "#automated-ip-warmup-hourly-send-schedule "
    "(github.com/sendgrid/docs, content/docs/ui/sending-email/warming-up-an-ip-address.md)")

#: SendGrid's hourly email limit by warmup age 0..41; sending day d is warmup age d - 1
SENDGRID_HOURLY = (
    20, 28, 39, 55, 77, 108, 151, 211, 295, 413,
    579, 810, 1_000, 1_587, 2_222, 3_111, 4_356, 6_098, 8_583, 11_953,
    16_734, 23_427, 32_798, 45_917, 64_284, 89_998, 125_997, 176_395, 246_953, 345_735,
    484_029, 677_640, 948_696, 1_328_175, 1_859_444, 2_603_222, 3_644_511, 5_102_316,
    7_143_242, 10_000_539, 14_000_754, 19_601_056,
)

SPARKPOST_AUTO_SOURCE = (
    "SparkPost, Getting Started with our Automated IP Warmup Feature, \"Stage-Based "
    "Progression Schedule\" (Stage 1-29 -> Target Volume per day; Stage 30: DONE): "
    "https://www.sparkpost.com/docs/user-guide/automated-ip-warmup/ "
    "(github.com/SparkPost/support-docs, content/docs/user-guide/automated-ip-warmup.md)")

SPARKPOST_MANUAL_SOURCE = (
    "SparkPost, IP Warm-up Strategy Overview, \"IP Warm-up Plan\" (Day 1-29 -> Daily Volume "
    "per IP; Day 30: DONE): https://www.sparkpost.com/docs/deliverability/ip-warm-up-overview/ "
    "(github.com/SparkPost/support-docs, content/docs/deliverability/ip-warm-up-overview.md)")

#: SparkPost's daily volume per IP: the manual plan's day d and the auto warmup's stage d
#: are the same figures
SPARKPOST_DAILY = (
    200, 500, 1_000, 2_000, 5_000, 10_000, 20_000,
    40_000, 50_000, 75_000, 100_000, 150_000, 200_000, 250_000,
    325_000, 400_000, 500_000, 600_000, 750_000, 1_000_000, 1_250_000,
    1_750_000, 2_000_000, 3_000_000, 4_250_000, 5_000_000, 6_000_000, 7_500_000,
    10_000_000,
)

SENDGRID_HOURLY_SCHEDULE = Schedule(
    name="sendgrid-hourly",
    source=SENDGRID_SOURCE,
    daily_caps=tuple(24 * hourly for hourly in SENDGRID_HOURLY),
    hourly_caps=SENDGRID_HOURLY,
    after_last=AfterLast.UNLIMITED,
    notes="SendGrid publishes hourly limits only: the daily cap is 24 x the hourly limit, the "
          "most an IP can carry if every hour is full. Warmup age 0 is sending day 1. Age 12 "
          "reads 1,000 where x1.4 a day gives about 1,134; the published figure is kept. "
          "The table ends at age 41, when the IP leaves automated warmup. SendGrid's own "
          "automated warmup counts calendar days from its start date; this schedule counts "
          "sending days.",
)

SPARKPOST_AUTO_SCHEDULE = Schedule(
    name="sparkpost-auto",
    source=SPARKPOST_AUTO_SOURCE,
    daily_caps=SPARKPOST_DAILY,
    after_last=AfterLast.UNLIMITED,
    notes="Stage n is sending day n. The page prints stage 28 as \"7,50,000/day\"; the "
          "manual plan's day 28 and SparkPost's app (2web2ui, src/pages/ipPools/constants.js, "
          "formatFullNumber(7500000)) give 7,500,000, which is taken. SparkPost moves an IP to "
          "the next stage only after a day that delivered more than 90% of the stage's "
          "volume, and switches auto warmup off when a stage above 1 has not progressed for "
          "10 days.",
)

SPARKPOST_MANUAL_SCHEDULE = Schedule(
    name="sparkpost-manual",
    source=SPARKPOST_MANUAL_SOURCE,
    daily_caps=SPARKPOST_DAILY,
    after_last=AfterLast.UNLIMITED,
    notes="SparkPost's manual plan: weeks 1-2 to recipients engaged in the last 30 days, "
          "weeks 3-4 in the last 60, none unengaged for 90 days in the first 6 weeks; above "
          "10 million, add another IP.",
)

CONSERVATIVE_SCHEDULE = Schedule(
    name="conservative",
    source="espkit: on each day the lower of the published daily figures above "
           f"(sparkpost-manual; sendgrid-hourly x 24). {SPARKPOST_MANUAL_SOURCE}; "
           f"{SENDGRID_SOURCE}",
    # the shorter table sets the length: SparkPost's 29 days
    daily_caps=tuple(min(sparkpost, 24 * sendgrid) for sparkpost, sendgrid
                     in zip(SPARKPOST_DAILY, SENDGRID_HOURLY[:len(SPARKPOST_DAILY)], strict=True)),
    after_last=AfterLast.LAST_CAP,
    notes="For ESPs that publish no figures (Mailgun, Amazon SES, a manual warmup anywhere): "
          "never faster on any day than any published schedule espkit ships. After day 29 "
          "it keeps day 29's cap (5,926,872 a day; SparkPost recommends 2 to 5 million a day "
          "from one warm IP) until the platform declares the IP warm.",
)

_SCHEDULES: dict[str, Schedule] = {s.name: s for s in (
    SENDGRID_HOURLY_SCHEDULE, SPARKPOST_AUTO_SCHEDULE, SPARKPOST_MANUAL_SCHEDULE,
    CONSERVATIVE_SCHEDULE)}


def schedules() -> tuple[str, ...]:
    """The names of the shipped schedules, sorted."""
    return tuple(sorted(_SCHEDULES))


def schedule(name: str) -> Schedule:
    """The shipped schedule called ``name``; an unknown name is a ``ValidationError`` that
    lists the known ones."""
    found = _SCHEDULES.get(name) if isinstance(name, str) else None
    if found is None:
        raise ValidationError("schedule", name,
                              f"unknown warmup schedule; known: {', '.join(schedules())}")
    return found
