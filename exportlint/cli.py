"""Command line. Imports only the standard library at start: torch & co. load when a command needs them."""

from __future__ import annotations

import argparse
import os
import re
import sys

from exportlint import __version__
from exportlint.errors import UsageError

FORMATS = ("text", "json", "sarif", "github")
_DYNAMIC = re.compile(r"^(?P<input>\d+):(?P<dim>\d+)(?:=(?P<name>[A-Za-z_]\w*))?(?::(?P<min>\d*)\.\.(?P<max>\d*))?$")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exportlint",
        description="Find what will not convert to ONNX, Core ML, TFLite or TensorRT, before converting.",
    )
    parser.add_argument("--version", action="version", version=f"exportlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="capture models and check them against targets",
                           description="Check models (path/to/file.py:factory or package.module:factory).")
    check.add_argument("specs", nargs="+", metavar="SPEC",
                       help="file.py:factory or package.module:factory (returns a module, or (module, inputs))")
    check.add_argument("-t", "--target", action="append", default=[], metavar="TARGET",
                       help="onnx:N (9-23), coreml:iOS15..iOS18, tflite, tflite:select, tflite:gpu, "
                            "tensorrt:8.6, tensorrt:10 (repeatable; default onnx:18)")
    check.add_argument("--input-shape", action="append", default=[], metavar="SHAPE",
                       help="example input shape such as 1,3,224,224 (repeatable, one per input)")
    check.add_argument("--input-dtype", action="append", default=[], metavar="DTYPE",
                       help="dtype of the inputs (one for all, or one per --input-shape; default float32)")
    check.add_argument("--dynamic", action="append", default=[], metavar="IN:DIM[=NAME][:MIN..MAX]",
                       help="mark dimension DIM of input IN dynamic, e.g. 0:0=batch or 0:2=seq:2..512")
    check.add_argument("--train", action="store_true", help="capture in training mode (default: eval)")
    check.add_argument("--mean", type=_floats, help="declared input normalisation mean, e.g. 0.485,0.456,0.406")
    check.add_argument("--std", type=_floats, help="declared input normalisation std")
    check.add_argument("--select", action="append", default=[], metavar="CODE",
                       help="only these rule codes or prefixes (repeatable; ALL = every rule)")
    check.add_argument("--ignore", action="append", default=[], metavar="CODE",
                       help="skip these rule codes or prefixes (repeatable)")
    check.add_argument("--format", choices=FORMATS, default="text")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when a target is blocked")

    explain = sub.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("code", metavar="CODE")
    sub.add_parser("rules", help="list every rule")
    sub.add_parser("targets", help="list the support tables: provenance, counts, share proven by probes")
    op = sub.add_parser("op", help="print an operator's support across every target and version")
    op.add_argument("op", metavar="OP", help="e.g. aten.grid_sampler.default or grid_sampler")
    return parser


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def parse_dynamic(text: str):
    from exportlint.config import DynamicDim

    m = _DYNAMIC.match(text)
    if m is None:
        raise UsageError(f"--dynamic {text!r}: expected IN:DIM[=NAME][:MIN..MAX], e.g. 0:0=batch or 0:2=seq:2..512")
    i, d = int(m["input"]), int(m["dim"])
    return DynamicDim(i, d, m["name"] or f"in{i}_dim{d}",
                      int(m["min"]) if m["min"] else None, int(m["max"]) if m["max"] else None)


def _options(args):
    from exportlint.config import Options
    from exportlint.targets import parse_target

    opts = Options(select=args.select, ignore=args.ignore, train=args.train, mean=args.mean, std=args.std,
                   dynamic=[parse_dynamic(d) for d in args.dynamic])
    if args.target:
        opts.targets = list(dict.fromkeys(parse_target(t) for t in args.target))
    if (opts.mean is None) != (opts.std is None):
        raise UsageError("--mean and --std go together")
    return opts


def cmd_check(args) -> int:
    from exportlint.run import check_specs
    from exportlint.report import render

    options = _options(args)
    report = check_specs(args.specs, options, args.input_shape, args.input_dtype)
    color = args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(render(report, args.format, color=color))
    return 1 if report.blocking and not args.exit_zero else 0


def cmd_explain(args) -> int:
    from exportlint.docs import rule_markdown
    from exportlint.engine.registry import all_rules

    rule = all_rules().get(args.code.upper())
    if rule is None:
        raise UsageError(f"unknown rule code {args.code!r}; `exportlint rules` lists them")
    print(rule_markdown(rule))
    return 0


def cmd_rules(args) -> int:
    from exportlint.engine.registry import all_rules

    for code, rule in all_rules().items():
        print(f"{code}  {rule.slug:<32} {rule.summary}")
    return 0


def cmd_targets(args) -> int:
    from exportlint.tables.query import render_summaries

    print(render_summaries())
    return 0


def cmd_op(args) -> int:
    from exportlint.tables.query import render_op

    print(render_op(args.op))
    return 0


COMMANDS = {"check": cmd_check, "explain": cmd_explain, "rules": cmd_rules, "targets": cmd_targets,
            "op": cmd_op}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"exportlint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user, unless asked
        if os.environ.get("EXPORTLINT_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"exportlint: internal error: {type(exc).__name__}: {first} "
              "(set EXPORTLINT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
