"""An ambiguous create is read back and adopted only when what exists is what was asked for:
a stream of the same id but another kind is a conflict, not a success (on the Postmark fake,
the provider with streams)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fakes.postmark import PostmarkFake

from espkit.errors import ConflictingState
from espkit.models import StreamKind


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[PostmarkFake]:
    with PostmarkFake() as f:
        yield f


@pytest.mark.parametrize(("existing", "asked", "adopted"), [
    ("Broadcasts", "broadcast", True),
    ("Transactional", "broadcast", False),
    ("Broadcasts", "transactional", False),
])
def test_a_timed_out_stream_create_adopts_only_the_same_kind(
        fake: PostmarkFake, existing: str, asked: str, adopted: bool) -> None:
    acct = fake.connect()
    server = fake.add_server("customer-1")
    scoped = acct.on_behalf_of(str(server["ID"]))
    # the stream is there already (made by someone else, or by our earlier attempt); the
    # create is sent, the ESP answers, and the answer is lost to a read timeout
    scoped.streams.create("news", kind="broadcast" if existing == "Broadcasts"
                          else "transactional")
    fake.fail_next("timeout_after_commit", "POST", "/message-streams")
    if adopted:
        stream = scoped.streams.create("news", kind=asked)
        assert stream.kind is StreamKind(asked)
    else:
        with pytest.raises(ConflictingState, match="create stream news exists but differs"):
            scoped.streams.create("news", kind=asked)
    # one create for the setup, one for the ambiguous attempt; nothing re-sent blind
    assert fake.sent("POST", "/message-streams") == 2
