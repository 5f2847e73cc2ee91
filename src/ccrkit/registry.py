"""Name -> implementation registries: how methods, encoders, datasets and backends plug in.

A new implementation registers itself under a name; configs refer to it by that name. A config may
also list `plugins:` (importable module names) that are imported first, so third-party code can
register without any caller being edited.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from ccrkit.config import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of implementations of one kind (e.g. 'method', 'text encoder')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@METHODS.register("baseline")` above a class or factory."""

        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names()) or "(none)"
            raise ConfigError(f"unknown {self.kind} '{name}'; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def import_plugins(modules: Iterable[str]) -> None:
    """Import user modules named in a config so that their registrations take effect."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugin module '{module}' could not be imported: {err}") from None
