"""``acct.streams``: message streams, where the ESP has them (Postmark).

List, create (safely, like every create) and read. On Postmark streams belong to a server,
so they are reached through ``acct.on_behalf_of(server_id).streams``.
"""

from __future__ import annotations

from collections.abc import Iterator

from espkit import validate
from espkit.account.manager import Manager, create_safely, or_none
from espkit.errors import ValidationError
from espkit.models import Capability, Stream, StreamKind


class Streams(Manager):
    """``acct.streams``: message streams where the ESP has them (Postmark)."""

    def list(self) -> Iterator[Stream]:
        self._require(Capability.STREAMS)
        return self._provider.list_streams()

    def create(self, stream_id: str, *, name: str | None = None,
               kind: StreamKind | str = StreamKind.BROADCAST) -> Stream:
        self._require(Capability.STREAMS)
        sid = validate.resource_name(stream_id, "stream")
        try:
            stream_kind = StreamKind(kind)
        except ValueError:
            raise ValidationError("kind", kind, "must be transactional, broadcast or inbound") \
                from None
        label = name if name is not None else sid
        if not isinstance(label, str) or not label.strip() or any(c in label for c in "\r\n"):
            raise ValidationError("name", label, "must be one non-empty line")
        return create_safely(
            f"create stream {sid}",
            lambda: self._provider.create_stream(sid, label, stream_kind),
            lambda: or_none(lambda: self._provider.get_stream(sid)),
            lambda s: s.id == sid and s.kind is stream_kind,
            runner=self._runner,
        )

    def get(self, stream_id: str) -> Stream:
        self._require(Capability.STREAMS)
        return self._provider.get_stream(validate.resource_name(stream_id, "stream"))


__all__ = ["Streams"]
