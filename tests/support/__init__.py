"""Helpers shared by the tests: ESP fakes, the CLI text helpers, a step clock, a DNS server on
loopback, Mailgun mocks, a work counter (``work``: function calls, where a test would
otherwise time something) and a bound on a hang (``hang``: for calls that must end by
themselves)."""
