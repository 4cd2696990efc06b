"""The mechanisms the suite knows: their interfaces and where their parts live."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from distconform.errors import UsageError

__all__ = ["MECHANISMS", "Mechanism", "get"]


@dataclass(frozen=True)
class Mechanism:
    """One mechanism: its client interface, optional abilities and references."""

    name: str
    #: Methods every client must have.
    methods: tuple[str, ...]
    #: capability -> methods a client must have when it declares it.
    capability_methods: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Registered names of the reference implementations.
    references: tuple[str, ...] = ()
    #: Capabilities an implementation may declare for this mechanism.
    capabilities: tuple[str, ...] = ()

    @property
    def spec_path(self) -> Path:
        return Path(str(resources.files("distconform.spec").joinpath(f"{self.name}.md")))

    @property
    def conformance_path(self) -> Path:
        return Path(
            str(resources.files("distconform.conformance").joinpath(f"test_{self.name}.py"))
        )


MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in [
        Mechanism(
            name="lock",
            methods=("acquire", "release"),
            capability_methods={"extend": ("extend",), "fencing": ("token",)},
            references=("memory", "redis", "mysql"),
            capabilities=("distributed", "extend", "fencing", "injectable-clock"),
        ),
        Mechanism(
            name="lru",
            methods=("configure", "get", "put", "delete"),
            capability_methods={
                "contains": ("contains",),
                "size": ("size",),
                "peek": ("peek",),
                "keys": ("keys",),
            },
            references=("memory", "redis"),
            capabilities=("contains", "size", "peek", "keys", "thread-safe", "shared"),
        ),
        Mechanism(
            name="ratelimit",
            methods=("configure", "hit"),
            references=("memory", "redis"),
            capabilities=(
                "sliding-log",
                "fixed-window",
                "sliding-window-counter",
                "token-bucket",
                "cost",
                "rejected-consumes",
                "distributed",
                "injectable-clock",
            ),
        ),
        Mechanism(
            name="twopc",
            methods=("run", "recover"),
            capability_methods={"participants": ("participant",)},
            references=("memory", "mysql"),
            capabilities=("participants",),
        ),
        Mechanism(
            name="hotwarm",
            methods=("write", "read", "control"),
            references=("memory", "memory-async", "redis-sentinel"),
            capabilities=("sync", "async"),
        ),
    ]
}


def get(name: str) -> Mechanism:
    try:
        return MECHANISMS[name]
    except KeyError:
        known = ", ".join(sorted(MECHANISMS))
        raise UsageError(f"unknown mechanism {name!r}: choose one of {known}") from None
