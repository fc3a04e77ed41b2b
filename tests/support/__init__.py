"""Helpers shared by the tests: ESP fakes, the CLI text helpers, a step clock, a DNS server on
loopback, Mailgun mocks."""
