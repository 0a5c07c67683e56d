"""The one rule registry, filled by discovering every `Rule` subclass under `exportlint.checks`."""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from exportlint.discovery import collect
from exportlint.engine.rule import Rule

if TYPE_CHECKING:
    from exportlint.options import Options
    from exportlint.source.rule import SourceRule


SOURCE_MODULES = "source_"  # the source rules live in exportlint.checks.source_*


def _modules() -> list[str]:
    import exportlint.checks as pkg

    return [info.name for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]


def _collect(base: type[Rule]) -> dict[str, type[Rule]]:
    return dict(sorted(collect(base, "code").items()))


@cache
def all_rules() -> dict[str, type[Rule]]:
    """Rules by code, in code order. Importing a check module must not import torch."""
    for name in _modules():
        importlib.import_module(name)
    return _collect(Rule)


@cache
def source_rules() -> dict[str, type[SourceRule]]:
    """The source rules by code, importing only their modules: the source-only pass (the pre-commit
    hook) never pays for the graph rules' modules and tables."""
    from exportlint.source.rule import SourceRule

    for name in _modules():
        if name.rpartition(".")[2].startswith(SOURCE_MODULES):
            importlib.import_module(name)
    return _collect(SourceRule)


_CODE = re.compile(r'^    code(?:: [^=]+)? = "(EXL\d{3})"$', re.M)


@cache
def known_codes() -> frozenset[str]:
    """Every rule's code, read from the check modules' text without importing them (tested equal to
    `all_rules()`): what validating a code or a suppression comment needs."""
    import exportlint.checks as pkg

    return frozenset(code for path in Path(pkg.__path__[0]).glob("*.py")
                     for code in _CODE.findall(path.read_text(encoding="utf-8")))


def select(rules: dict[str, type[Rule]], options: Options) -> list[type[Rule]]:
    """Those of `rules` (by code) that the options' select/ignore enable (`Options.enabled`)."""
    return [rule for code, rule in rules.items() if options.enabled(code)]
