"""The registry's composition: its application, edges and read models on the shared kit."""

from __future__ import annotations

from salur_contracts.registry import BkmRegistered
from salur_kit.runtime import ServiceSpec

from salur_registry.api import router
from salur_registry.application import RegistryApplication
from salur_registry.integration import to_integration
from salur_registry.readmodel import RegistryLists

SPEC = ServiceSpec(
    name="registry",
    version="0.1.0",
    application=RegistryApplication,
    router=router,
    to_integration=to_integration,
    topic=BkmRegistered.topic(),
    projections=(RegistryLists,),
)
