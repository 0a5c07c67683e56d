"""Command line. Imports only the standard library at start: torch & co. load when a command needs them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from exportlint import __version__
from exportlint.errors import LoadError, UsageError

FORMATS = ("text", "json", "sarif", "github", "html")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exportlint",
        description="Find what will not convert to ONNX, Core ML, TFLite or TensorRT, before converting.",
    )
    parser.add_argument("--version", action="version", version=f"exportlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="capture models (or lint source files) and check them against targets",
                           description="Check models (path/to/file.py:factory, package.module:factory) "
                                       "or lint .py files and directories without running them.")
    check.add_argument("specs", nargs="*", metavar="SPEC",
                       help="file.py:factory or package.module:factory (returns a module, or (module, inputs)), "
                            "or .py files / directories for the source-only pass; "
                            "default: the [[tool.exportlint.models]] of pyproject.toml")
    _model_options(check)
    check.add_argument("--with-models", action="store_true",
                       help="with .py files: also capture the [[tool.exportlint.models]] defined in them "
                            "(a pre-commit hook's args)")
    decide = check.add_mutually_exclusive_group()
    decide.add_argument("--confirm", action="store_const", const="confirm", dest="decide",
                        help="run every installed converter on each conversion path of PyTorch models: "
                             "their answer is the verdict (slow: seconds to minutes per converter)")
    decide.add_argument("--static", action="store_const", const="static", dest="decide",
                        help="decide from the support tables only (default: the ONNX paths are also "
                             "decided by running their translation, a few seconds)")
    check.add_argument("--no-cache", action="store_true",
                       help="run the converters again instead of reusing their decisions for the same graphs "
                            "and library versions (kept in $EXPORTLINT_CACHE_DIR, default ~/.cache/exportlint)")
    check.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                       help="check N models at once, each in its own process (the report is the same as "
                            "one at a time; docs/ci.md)")
    check.add_argument("--script", action="store_true",
                       help="the TorchScript paths (torch.onnx dynamo=False, Core ML trace) convert "
                            "torch.jit.script(model) instead of a trace (automatic when torch.export "
                            "stops at a branch on a tensor's value)")
    check.add_argument("--require-default-path", action="store_true",
                       help="a target counts as exportable only through its converter's default path "
                            "(torch.onnx dynamo, Core ML from an ExportedProgram)")
    check.add_argument("--format", choices=FORMATS, default="text",
                       help="html: one self-contained page that draws the graphs (docs/html-report.md)")
    check.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when a target is blocked")

    fix = sub.add_parser("fix", help="apply fixes: to .py files (LibCST), or to a model (--output fixed.pt2|.onnx)",
                         description="Fix source files in place (safe fixes; unsafe ones with --unsafe-fixes), "
                                     "or rewrite a model's graph, measure each rewrite and write it to --output.")
    fix.add_argument("specs", nargs="+", metavar="PATH|SPEC", help=".py files or directories, or one model SPEC")
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that change the numbers")
    fix.add_argument("--diff", action="store_true", help="source files: print the changes as a diff, write nothing")
    fix.add_argument("-o", "--output", metavar="FILE", help="model: where to write the fixed model (.pt2 or .onnx)")
    fix.add_argument("--fix", action="append", default=[], metavar="NAME",
                     help="model: run only these rewrites (repeatable; default: every one that applies)")
    fix.add_argument("--inputs", metavar="FILE.pt",
                     help="model: tensors (torch.save, loaded with weights_only=True) to measure the effect on")
    _model_options(fix)

    explain = sub.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("code", metavar="CODE")
    sub.add_parser("rules", help="list every rule")
    sub.add_parser("targets", help="list the support tables: provenance, counts, share proven by probes")
    sub.add_parser("server", help="a language server (LSP over stdio): the source-only rules as you type, "
                                  "with their fixes as code actions (docs/editors.md)")
    op = sub.add_parser("op", help="print an operator's support across every target and version")
    op.add_argument("op", metavar="OP", help="e.g. aten.grid_sampler.default or grid_sampler")
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `check` and `fix`: targets, example inputs, rule selection, config."""
    parser.add_argument("-t", "--target", action="append", default=[], metavar="TARGET",
                        help="onnx:N (9-23), coreml:iOS15..iOS18, tflite, tflite:select, tflite:gpu, "
                             "tensorrt:8.6, tensorrt:10 (repeatable; default onnx:18)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="SHAPE",
                        help="example input shape such as 1,3,224,224 (repeatable, one per input)")
    parser.add_argument("--input-dtype", action="append", default=[], metavar="DTYPE",
                        help="dtype of the inputs (one for all, or one per --input-shape; default float32)")
    parser.add_argument("--dynamic", action="append", default=[], metavar="IN:DIM[=NAME][:MIN..MAX]",
                        help="mark dimension DIM of input IN dynamic, e.g. 0:0=batch or 0:2=seq:2..512")
    parser.add_argument("--train", action="store_true", help="capture in training mode (default: eval)")
    parser.add_argument("--no-recapture", action="store_true",
                        help="skip the fake-tensor forward passes at doubled input sizes (EXL201 then sees "
                             "only dims marked --dynamic)")
    parser.add_argument("--mean", type=_floats, help="declared input normalisation mean, e.g. 0.485,0.456,0.406")
    parser.add_argument("--std", type=_floats, help="declared input normalisation std")
    parser.add_argument("--select", action="append", default=[], metavar="CODE",
                        help="only these rule codes or prefixes (repeatable; ALL = every rule)")
    parser.add_argument("--ignore", action="append", default=[], metavar="CODE",
                        help="skip these rule codes or prefixes (repeatable)")
    parser.add_argument("--config", metavar="FILE",
                        help="pyproject.toml to read [tool.exportlint] from (default: found walking up)")


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes (1 or more), got {text!r}")
    return int(text)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _options(args, config=None):
    """Options from the config (if any), then the command line on top: --target, --select, --mean/--std
    and --dynamic replace the config's; --ignore adds to its ignore list."""
    from exportlint.config import Config, check_normalisation, check_targets, parse_dynamic

    opts = _selection((config or Config()).options(), args)
    opts.train = opts.train or args.train
    opts.decide = getattr(args, "decide", None) or opts.decide
    opts.require_default_path = opts.require_default_path or getattr(args, "require_default_path", False)
    opts.script = opts.script or getattr(args, "script", False)
    opts.cache = not getattr(args, "no_cache", False)
    opts.recapture = not args.no_recapture
    check_normalisation(args.mean, args.std, "--mean/--std")
    if args.input_dtype and not args.input_shape:
        raise UsageError("--input-dtype needs --input-shape (the factory's own example inputs keep their dtypes)")
    if args.mean is not None:
        opts.mean, opts.std = args.mean, args.std
    opts.dynamic = [parse_dynamic(d) for d in args.dynamic]
    if args.target:
        opts.targets = check_targets(args.target, "--target")
    return opts


def _selection(opts, args):
    """--select replaces the config's selection; --ignore adds to its ignore list."""
    from exportlint.config import check_codes

    if args.select:
        opts.select = check_codes(args.select, "--select")
    opts.ignore = opts.ignore + check_codes(args.ignore, "--ignore")
    return opts


def _config(args, paths: list[str]):
    """`--config FILE`, else the first pyproject.toml with [tool.exportlint] above the specs' files
    (or the working directory)."""
    from pathlib import Path

    from exportlint.config import find_config, load_config

    if args.config:
        config = Path(args.config)
        if config.is_dir():
            raise UsageError(f"--config {args.config}: is a directory; give the pyproject.toml file itself")
        if not config.is_file():
            raise UsageError(f"--config {args.config}: no such file")
        return load_config(config, required=True)
    starts = [Path(p if is_source_path(p) else p.rpartition(":")[0]) for p in paths]
    return load_config(find_config([p for p in starts if p.exists()]))


def cmd_check(args) -> int:
    from exportlint.progress import shown
    from exportlint.report import render

    with shown(not args.quiet):
        report = _check(args)
    text = render(report, args.format, color=args.format == "text" and not args.output and wants_color(sys.stdout))
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 1 if report.failed and not args.exit_zero else 0


def _check(args):
    from exportlint.run import check_specs

    config = _config(args, args.specs)
    options = _options(args, config)
    sources = [Path(s) for s in args.specs if is_source_path(s)]
    specs = [s for s in args.specs if not is_source_path(s)]
    if args.specs:
        report = check_specs(specs, options, args.input_shape, args.input_dtype, args.jobs)
        if sources:
            from exportlint.run import check_models, check_sources, models_in

            skipped = check_sources(sources, options, report)
            if skipped:
                print(f"exportlint: not walked (hidden or build directories; name them to check them): "
                      f"{', '.join(f'{d}/' for d in skipped)}", file=sys.stderr)
            if args.with_models and config.models:
                sys.path.insert(0, str(config.path.parent.resolve()))  # `pkg.module:build` specs
                check_models(models_in(config.models, sources), options, report, args.jobs)
    elif config.models:
        from exportlint.run import check_models

        sys.path.insert(0, str(config.path.parent.resolve()))  # `pkg.module:build` specs of the project
        report = check_models(config.models, options, jobs=args.jobs)
    else:
        raise UsageError("no SPEC given and no [[tool.exportlint.models]] in a pyproject.toml "
                         "(e.g. exportlint check models/net.py:build)")
    return report


def wants_color(stream) -> bool:
    """Colours on a terminal, unless NO_COLOR is set; FORCE_COLOR asks for them anywhere
    (no-color.org, force-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or stream.isatty()


SOURCE_SUFFIXES = (".py", ".pyw", ".pyi")


def is_source_path(spec: str) -> bool:
    """A Python file (by suffix, or an extensionless script with a python shebang: what pre-commit
    passes as `types: [python]`) or a directory, to lint as source (no `:factory`)."""
    path = Path(spec)
    if spec.endswith(SOURCE_SUFFIXES):
        return True
    if path.is_dir():
        return not (path / "saved_model.pb").exists()
    return not path.suffix and path.is_file() and _python_shebang(path)


def _python_shebang(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            first = fh.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def cmd_fix(args) -> int:
    sources = [Path(p) for p in args.specs if is_source_path(p)]
    models = [p for p in args.specs if not is_source_path(p)]
    if models and (sources or len(models) > 1):
        raise UsageError("fix takes .py files/directories, or one model SPEC with --output")
    if models:
        return _fix_model(args, models[0])
    return _fix_sources(args, sources)


def _fix_model(args, spec: str) -> int:
    from exportlint.fix.apply import fix_model, render_fix_result

    if not args.output:
        raise UsageError(f"fix {spec}: give --output fixed.pt2 or --output fixed.onnx")
    options = _options(args, _config(args, [spec]))
    result = fix_model(spec, options, Path(args.output), unsafe=args.unsafe_fixes, shapes=args.input_shape,
                       dtypes=args.input_dtype, inputs_file=Path(args.inputs) if args.inputs else None,
                       select=args.fix)
    print(render_fix_result(result))
    return 1 if any(f.severity.value == "error" for f in result.after) else 0


def _fix_sources(args, paths: list[Path]) -> int:
    from exportlint.report.text import finding_line
    from exportlint.source import fix_files

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or directory")
    options = _selection(_config(args, [str(p) for p in paths]).options(), args)
    report = fix_files(paths, unsafe=args.unsafe_fixes, diff=args.diff, options=options)
    for changed in report.changed:
        if args.diff:
            sys.stdout.write(changed.diff)
        else:
            print(f"fixed {changed.path}: " + ", ".join(f.description for f in changed.applied))
    for refused in report.refused:
        print(f"exportlint: refused {refused.path}: {refused.refused}", file=sys.stderr)
    for f in report.remaining:
        print(finding_line(f))
    if args.diff and report.changed:
        return 1
    return 1 if report.remaining or report.refused else 0


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


def cmd_server(args) -> int:
    from exportlint.server import serve

    return serve()


COMMANDS = {"check": cmd_check, "fix": cmd_fix, "explain": cmd_explain, "rules": cmd_rules, "targets": cmd_targets,
            "op": cmd_op, "server": cmd_server}


# TensorFlow's C++ banner lines (oneDNN, CPU features, CUDA) on import: set before it is imported.
_QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "GRPC_VERBOSITY": "ERROR"}
# Import-time warnings of libraries the converters pull in (torchao via litert-torch and ExecuTorch: CUDA-only
# kernels that do not load, Enum pytree registrations): not the user's concern.
_QUIET_LOGGERS = ("torchao", "torch.utils._pytree")


def main(argv: list[str] | None = None) -> int:
    for key, value in _QUIET_TF.items():
        os.environ.setdefault(key, value)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
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
    except LoadError as exc:  # `fix SPEC --output`: the one model did not load
        print(f"exportlint: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `exportlint targets | head`
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user, unless asked
        if os.environ.get("EXPORTLINT_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"exportlint: internal error: {type(exc).__name__}: {first} "
              "(set EXPORTLINT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
