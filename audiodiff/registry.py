"""One registry per extension point (representations, backbones, heads, samplers).

Objects are built from ``{"name": ..., "args": {...}}`` specs; arguments are checked against the
constructor's signature so a config with an unexpected key is refused with a clear message.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable


class ConfigError(ValueError):
    """A config names an unknown component or passes arguments its constructor does not take."""


class Registry:
    """Maps names to classes or functions of one kind.

    Example:
        >>> BACKBONES = Registry("backbone")
        >>> @BACKBONES.register("bandsplit")
        ... class BandSplitNet: ...
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def add(obj):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __getitem__(self, name: str):
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def name_of(self, obj: Any) -> str:
        for name, entry in self._entries.items():
            if entry is obj:
                return name
        raise KeyError(f"{obj!r} is not a registered {self.kind}")

    def build(self, spec: dict) -> Any:
        """Build from ``{"name": str, "args": dict}``; unexpected keys raise ConfigError."""
        if not isinstance(spec, dict) or set(spec) - {"name", "args"} or "name" not in spec:
            raise ConfigError(f"a {self.kind} spec is {{'name': ..., 'args': {{...}}}}, got {spec!r}")
        cls = self[spec["name"]]
        args = dict(spec.get("args") or {})
        params = inspect.signature(cls).parameters
        unexpected = sorted(set(args) - set(params))
        if unexpected:
            raise ConfigError(
                f"{self.kind} {spec['name']!r} does not take {', '.join(unexpected)} "
                f"(it takes {', '.join(p for p in params if p != 'self')})"
            )
        obj = cls(**args)
        return obj
