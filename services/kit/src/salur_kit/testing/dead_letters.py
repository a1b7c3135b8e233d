"""Dead letters kept in memory, for a tracked consumer driven without Kafka."""

from __future__ import annotations


class KeptDeadLetters:
    """What the consumer dead-lettered: (topic, original value, headers) per message."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, value, dict(headers)))

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.sent]

    @property
    def reasons(self) -> list[str]:
        """The error type each was dead-lettered for (`x-dlq-error-type`)."""
        return [headers["x-dlq-error-type"].decode() for _, _, headers in self.sent]
