"""Regenerate the support tables from the installed libraries."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

import exportlint.tables.generate as pkg


def main(argv: list[str] | None = None) -> int:
    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    parser = argparse.ArgumentParser(prog="python -m exportlint.tables.generate", description=__doc__)
    parser.add_argument("tables", nargs="*", choices=[[], *names], metavar="NAME",
                        help=f"generators to run (default: all): {', '.join(names)}")
    parser.add_argument("--probe", action="store_true",
                        help="also convert one-op models with the real converters (slow)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "rules" / "tables")
    args = parser.parse_args(argv)
    for name in args.tables or names:
        module = importlib.import_module(f"{pkg.__name__}.{name}")
        for path in module.generate(args.out, args.probe):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
