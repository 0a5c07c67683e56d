"""Discovery by subclassing, shared by the rule registry and the target families: a class that sets
its own key attribute (`code` for rules, `name` for families) is registered once."""

from __future__ import annotations

from typing import Iterator, TypeVar

T = TypeVar("T", bound=type)


def subclasses(cls: T) -> Iterator[T]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def collect(base: T, key: str) -> dict[str, T]:
    """Every subclass of `base` that defines `key` itself, by that key; a key defined twice is an error."""
    found: dict[str, T] = {}
    for cls in subclasses(base):
        value = cls.__dict__.get(key)
        if value is None:
            continue
        if value in found:
            raise RuntimeError(f"duplicate {key} {value}: {found[value]} and {cls}")
        found[value] = cls
    return found
