"""The one rule registry, filled by discovering every `Rule` subclass under `exportlint.checks`."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

from exportlint.engine.rule import Rule

if TYPE_CHECKING:
    from exportlint.config import Options


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


def select(rules: dict[str, type[Rule]], options: Options) -> list[type[Rule]]:
    """Those of `rules` (by code) that the options' select/ignore enable (`Options.enabled`)."""
    return [rule for code, rule in rules.items() if options.enabled(code)]
