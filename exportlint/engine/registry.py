"""The one rule registry, filled by discovering every `Rule` subclass under `exportlint.checks`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from exportlint.engine.rule import Rule


def _walk(cls: type[Rule]):
    for sub in cls.__subclasses__():
        yield sub
        yield from _walk(sub)


@cache
def all_rules() -> dict[str, type[Rule]]:
    """Rules by code, in code order. Importing a check module must not import torch."""
    import exportlint.checks as pkg

    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
    rules: dict[str, type[Rule]] = {}
    for cls in _walk(Rule):
        code = cls.__dict__.get("code")
        if code is None:
            continue
        if code in rules:
            raise RuntimeError(f"duplicate rule code {code}: {rules[code]} and {cls}")
        rules[code] = cls
    return dict(sorted(rules.items()))


def select(codes: dict[str, type[Rule]], select: list[str], ignore: list[str]) -> list[type[Rule]]:
    """Rules whose code starts with a selected prefix (`ALL` = every rule) and no ignored prefix."""

    def matches(code: str, prefixes: list[str]) -> bool:
        return any(p == "ALL" or code.startswith(p) for p in prefixes)

    return [r for c, r in codes.items() if matches(c, select or ["ALL"]) and not matches(c, ignore)]
