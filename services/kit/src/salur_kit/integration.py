"""Building integration events from domain events whose attributes already match.

Most mappings in a service's `integration` module copy same-named attributes and put the
aggregate id into the contract's subject field; `copied` says that once. A mapping that
reshapes data stays a plain function in the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salur_contracts.base import IntegrationEvent

Mapping = Callable[[Any], IntegrationEvent]


def copied(contract: type[IntegrationEvent], **given: Any) -> Mapping:
    """`contract` from the event's attributes of the same names.

    `given` fills fields the event does not carry: a value, or a function of the event.
    A field the event lacks and `given` does not name fails validation loudly.
    """

    def build(event: Any) -> IntegrationEvent:
        values = {
            name: getattr(event, name)
            for name in contract.model_fields
            if name not in given and hasattr(event, name)
        }
        values[contract.subject_field] = event.originator_id
        for name, value in given.items():
            values[name] = value(event) if callable(value) else value
        return contract(**values)

    return build
