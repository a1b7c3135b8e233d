"""Salur's public event catalogue: integration events, value types, CloudEvents codec.

Importing the package registers every event module, so `cloudevents.decode` knows the whole
catalogue whichever submodule a consumer imports first.
"""

from salur_contracts import matching, opportunities, partnerships, planning, registry
from salur_contracts.base import CATALOGUE, IntegrationEvent, UnknownEventTypeError, lookup

__all__ = [
    "CATALOGUE",
    "IntegrationEvent",
    "UnknownEventTypeError",
    "lookup",
    "matching",
    "opportunities",
    "partnerships",
    "planning",
    "registry",
]
