"""Finding implementations by name or ``module:factory``, and checking them."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distconform.api import Context, Implementation
from distconform.errors import UsageError
from distconform.mechanisms import Mechanism

__all__ = ["Adapter", "registered", "resolve", "validate_client"]

ENTRY_POINT_GROUP = "distconform.implementations"


@dataclass(frozen=True)
class Adapter:
    """A factory found from what the user typed."""

    mechanism: str
    #: The short name used in reports: the registered name, or the spec itself.
    name: str
    #: ``module:callable``: what a child process imports to rebuild it.
    spec: str
    factory: Callable[[Context], Implementation]

    def build(self, ctx: Context) -> Implementation:
        impl = self.factory(ctx)
        if not isinstance(impl, Implementation):
            raise UsageError(
                f"adapter {self.spec} returned {type(impl).__name__}, expected "
                "distconform.api.Implementation(client=..., capabilities=...)"
            )
        return impl


def registered(mechanism: str) -> dict[str, str]:
    """Registered names for ``mechanism`` -> ``module:callable``."""
    out: dict[str, str] = {}
    prefix = f"{mechanism}/"
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.startswith(prefix):
            out[ep.name[len(prefix) :]] = ep.value
    return out


def _import_callable(spec: str) -> Callable[[Context], Implementation]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"implementation {spec!r} is not MODULE:CALLABLE")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"cannot import module {module_name!r} for implementation {spec!r} ({exc}): "
            "check the spelling, install its package, or add its folder to PYTHONPATH"
        ) from None
    except Exception as exc:  # its own import code failed: report, do not crash
        raise UsageError(
            f"importing module {module_name!r} for implementation {spec!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(
                f"module {module_name!r} has no attribute {attr!r} (implementation {spec!r}): "
                "name the adapter factory as MODULE:CALLABLE"
            ) from None
    if not callable(obj):
        raise UsageError(
            f"{spec!r} is a {type(obj).__name__}, not a callable factory(context) -> Implementation"
        )
    return obj


def resolve(mechanism: Mechanism, text: str) -> Adapter:
    """An adapter from a registered name (``redis-py``) or ``module:factory``."""
    if ":" in text:
        return Adapter(mechanism.name, text, text, _import_callable(text))
    names = registered(mechanism.name)
    if text not in names:
        known = ", ".join(sorted(names)) or "none registered"
        raise UsageError(
            f"unknown {mechanism.name} implementation {text!r}: give MODULE:FACTORY "
            f"or a registered name ({known})"
        )
    return Adapter(mechanism.name, text, names[text], _import_callable(names[text]))


def validate_client(
    mechanism: Mechanism, adapter: Adapter, impl: Implementation, client: Any
) -> None:
    """Refuse a client that lacks the methods its mechanism and capabilities need."""
    unknown = sorted(impl.capabilities - set(mechanism.capabilities))
    if unknown:
        raise UsageError(
            f"implementation {adapter.name!r} declares unknown {mechanism.name} "
            f"capabilities {', '.join(unknown)}; known: {', '.join(mechanism.capabilities)}"
        )
    wanted = list(mechanism.methods)
    for cap in sorted(impl.capabilities):
        wanted += mechanism.capability_methods.get(cap, ())
    missing = [m for m in wanted if not callable(getattr(client, m, None))]
    if missing:
        raise UsageError(
            f"implementation {adapter.name!r}: its {mechanism.name} client "
            f"({type(client).__name__}) lacks method(s) {', '.join(missing)}"
        )
