"""Regenerate the support tables from the installed libraries, family by family."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

import exportlint.tables.generate as pkg


def main(argv: list[str] | None = None) -> int:
    from exportlint.family import all_families

    families = all_families()
    modules = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    # a family's own generators run under its name; modules no family claims (tf_tables) under theirs
    claimed = {g for unit in families.values() for g in unit.generators}
    precisions = [f"{f}+{p}" for f, unit in families.items() for p in unit.precisions]  # one quantization table
    names = [*families, *precisions, *(m for m in modules if m not in claimed)]
    parser = argparse.ArgumentParser(prog="python -m exportlint.tables.generate", description=__doc__)
    parser.add_argument("tables", nargs="*", choices=[[], *names, *claimed], metavar="NAME",
                        help=f"families or generators to run (default: all): {', '.join(names)}")
    parser.add_argument("--probe", action="store_true",
                        help="also convert one-op models with the real converters (slow)")
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="with --probe: stop starting probes after this time (families with their own "
                             "probe: executorch, openvino); the next run resumes")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "rules" / "tables")
    args = parser.parse_args(argv)
    for name in args.tables or [n for n in names if n not in precisions]:
        family, _, precision = name.partition("+")
        if family in families:
            paths = families[family].generate(args.out, args.probe, args.budget, precision or None)
        else:
            paths = importlib.import_module(f"{pkg.__name__}.{name}").generate(args.out, args.probe)
        for path in paths:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
