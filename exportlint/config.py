"""Run options: one typed object, filled from `[tool.exportlint]` in pyproject.toml and the command line.

`find_config(paths)` walks up from the checked files (or the working directory) to the first
pyproject.toml with a `[tool.exportlint]` table; `load_config(path)` reads it into a typed `Config`,
raising a one-line `UsageError` for an unknown key (with the closest valid one) or a wrong type.
`Config.options()` gives the run's `Options`; the command line then overrides field by field.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from exportlint.errors import UsageError
from exportlint.options import DynamicDim, Options, PerFileIgnore, matches_code
from exportlint.targets import Target, parse_target

_DYNAMIC = re.compile(r"^(?P<input>\d+):(?P<dim>\d+)(?:=(?P<name>[A-Za-z_]\w*))?(?::(?P<min>\d*)\.\.(?P<max>\d*))?$")
_CODE = re.compile(r"^(ALL|EXL\d{0,3})$")


def parse_dynamic(text: str, where: str = "--dynamic") -> DynamicDim:
    """`IN:DIM[=NAME][:MIN..MAX]`, e.g. `0:0=batch` or `0:2=seq:2..512`."""
    m = _DYNAMIC.match(text)
    if m is None:
        raise UsageError(f"{where} {text!r}: expected IN:DIM[=NAME][:MIN..MAX], e.g. 0:0=batch or 0:2=seq:2..512")
    i, d = int(m["input"]), int(m["dim"])
    low, high = (int(m[k]) if m[k] else None for k in ("min", "max"))
    if high is not None and (high < 2 or low is not None and low >= high):
        raise UsageError(f"{where} {text!r}: MIN..MAX must have MIN < MAX and MAX >= 2 "
                         "(a dynamic dim takes more than one size)")
    return DynamicDim(i, d, m["name"] or f"in{i}_dim{d}", low, high)


def check_codes(codes: Iterable[str], where: str) -> list[str]:
    """Upper-cased codes or prefixes; UsageError for one that is malformed or matches no rule. The one
    validator of every place codes are read: --select/--ignore, [tool.exportlint], the pytest plugin."""
    from exportlint.engine.registry import known_codes

    out = []
    for raw in codes:
        code = raw.strip().upper()
        if not _CODE.match(code):
            raise UsageError(f"{where} {raw!r} is not a rule code or prefix (codes look like EXL101, "
                             "prefixes like EXL2, or ALL)")
        if not any(matches_code(known, [code]) for known in known_codes()):
            raise UsageError(f"{where} {raw!r} matches no rule (`exportlint rules` lists them)")
        out.append(code)
    return out


def check_targets(texts: Iterable[str], where: str) -> list[Target]:
    """The targets named by `texts`, without repeats; UsageError for none or an unknown one."""
    targets = []
    for text in texts:
        try:
            targets.append(parse_target(text))
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
    if not targets:
        raise UsageError(f"{where}: no target given (e.g. onnx:17)")
    return list(dict.fromkeys(targets))


def check_normalisation(mean: tuple[float, ...] | None, std: tuple[float, ...] | None, where: str) -> None:
    if (mean is None) != (std is None):
        raise UsageError(f"{where}: mean and std go together")
    if mean is not None and len(mean) != len(std):
        raise UsageError(f"{where}: mean and std differ in length ({len(mean)} vs {len(std)})")
    if std is not None and any(v == 0 for v in std):
        raise UsageError(f"{where}: std must not contain 0")


@dataclass
class ModelEntry:
    """One `[[tool.exportlint.models]]`: what `exportlint check` with no SPEC checks."""

    spec: str  # file specs are made relative to the working directory when loaded
    input_shapes: list[str] = field(default_factory=list)
    input_dtypes: list[str] = field(default_factory=list)
    dynamic: list[DynamicDim] = field(default_factory=list)
    targets: list[Target] | None = None  # None: the run's targets
    mean: tuple[float, ...] | None = None  # None: the run's
    std: tuple[float, ...] | None = None
    train: bool | None = None

    def options(self, base: Options) -> Options:
        from dataclasses import replace

        return replace(base, targets=self.targets or base.targets, dynamic=self.dynamic or base.dynamic,
                       mean=self.mean if self.mean is not None else base.mean,
                       std=self.std if self.std is not None else base.std,
                       train=base.train if self.train is None else self.train)


@dataclass
class Config:
    """`[tool.exportlint]` of one pyproject.toml (`path` None: no config found, all defaults)."""

    path: Path | None = None
    targets: list[Target] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: list[PerFileIgnore] = field(default_factory=list)
    models: list[ModelEntry] = field(default_factory=list)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    train: bool = False
    decide: str = "auto"
    require_default_path: bool = False
    script: bool = False

    def options(self) -> Options:
        opts = Options(select=list(self.select), ignore=list(self.ignore), mean=self.mean, std=self.std,
                       train=self.train, per_file_ignores=list(self.per_file_ignores), decide=self.decide,
                       require_default_path=self.require_default_path, script=self.script)
        if self.targets:
            opts.targets = list(self.targets)
        return opts


# -- reading pyproject.toml ------------------------------------------------------------------------


def find_config(paths: Iterable[Path | str] = ()) -> Path | None:
    """The first pyproject.toml with a `[tool.exportlint]` table, walking up from each of `paths`
    (files or directories; the working directory when empty)."""
    starts = [Path(p).resolve() for p in paths] or [Path.cwd()]
    for start in starts:
        for directory in ([start] if start.is_dir() else []) + list(start.parents):
            candidate = directory / "pyproject.toml"
            if candidate.is_file() and b"tool.exportlint" in candidate.read_bytes():
                if "exportlint" in _read_toml(candidate).get("tool", {}):
                    return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def load_config(path: Path | None, required: bool = False) -> Config:
    """The typed `[tool.exportlint]` of `path`; defaults when `path` is None. `required` (a file
    named by --config): a file without the table is an error, not silently all defaults."""
    if path is None:
        return Config()
    tool = _read_toml(path).get("tool", {})
    if required and not isinstance(tool.get("exportlint"), dict):
        raise UsageError(f"{path}: no [tool.exportlint] table")
    table = tool.get("exportlint", {})
    reader = _Reader(path, "[tool.exportlint]")
    reader.check_keys(table, _TOP_KEYS)
    root = path.parent.resolve()
    cfg = Config(path=path)
    cfg.targets = reader.targets(table, "targets")
    cfg.select = reader.codes(table, "select")
    cfg.ignore = reader.codes(table, "ignore")
    cfg.mean, cfg.std = reader.normalisation(table)
    cfg.train = reader.typed(table, "train", bool, "a boolean", False)
    cfg.decide = reader.typed(table, "decide", str, f"one of {', '.join(DECIDE_MODES)}", "auto")
    if cfg.decide not in DECIDE_MODES:
        raise reader.fail("decide", f"one of {', '.join(DECIDE_MODES)}", cfg.decide)
    cfg.require_default_path = reader.typed(table, "require-default-path", bool, "a boolean", False)
    cfg.script = reader.typed(table, "script", bool, "a boolean", False)
    pfi = reader.typed(table, "per-file-ignores", dict, "a table of glob = [codes]", {})
    for pattern, codes in pfi.items():
        codes = reader.codes({pattern: codes}, pattern, f"per-file-ignores.{pattern!r}")
        cfg.per_file_ignores.append(PerFileIgnore(pattern, tuple(codes), root))
    models = reader.typed(table, "models", list, "an array of tables ([[tool.exportlint.models]])", [])
    for i, entry in enumerate(models):
        cfg.models.append(_model_entry(path, i, entry))
    return cfg


_TOP_KEYS = ("targets", "select", "ignore", "per-file-ignores", "models", "mean", "std", "train", "decide",
             "require-default-path", "script")
DECIDE_MODES = ("static", "auto", "confirm")
_MODEL_KEYS = ("spec", "input-shapes", "input-dtypes", "dynamic", "targets", "mean", "std", "train")


def _model_entry(path: Path, index: int, entry: Any) -> ModelEntry:
    reader = _Reader(path, f"[[tool.exportlint.models]] #{index + 1}")
    if not isinstance(entry, dict):
        raise UsageError(f"{path}: {reader.where} must be a table, got {type(entry).__name__}")
    reader.check_keys(entry, _MODEL_KEYS)
    spec = reader.typed(entry, "spec", str, "a string like 'pkg.module:build' or 'models/net.py:build'", None)
    if spec is None:
        raise UsageError(f"{path}: {reader.where} needs a 'spec' (e.g. spec = \"pkg.module:build\")")
    mean, std = reader.normalisation(entry)
    targets = reader.targets(entry, "targets")
    return ModelEntry(
        spec=_spec_relative_to(spec, path.parent),
        input_shapes=reader.strings(entry, "input-shapes"),
        input_dtypes=reader.strings(entry, "input-dtypes"),
        dynamic=[parse_dynamic(d, f"{path}: {reader.where} dynamic") for d in reader.strings(entry, "dynamic")],
        targets=targets or None, mean=mean, std=std,
        train=reader.typed(entry, "train", bool, "a boolean", None),
    )


def _spec_relative_to(spec: str, root: Path) -> str:
    """File specs are written relative to the pyproject.toml; report them relative to the cwd."""
    target, sep, attr = spec.rpartition(":")
    if not (target.endswith(".py") or "/" in target or "\\" in target) or Path(target).is_absolute():
        return spec
    full = (root / target).resolve()
    rel = os.path.relpath(full)
    return f"{full if rel.startswith('..') else rel}{sep}{attr}"


@dataclass
class _Reader:
    """Typed access to one TOML table, with errors that name the file, table and key."""

    path: Path
    where: str

    def fail(self, key: str, expected: str, value: Any) -> UsageError:
        return UsageError(f"{self.path}: {self.where} {key} must be {expected}, got {value!r}")

    def check_keys(self, table: dict[str, Any], valid: tuple[str, ...]) -> None:
        for key in table:
            if key not in valid:
                close = difflib.get_close_matches(key.replace("_", "-"), valid, n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
                raise UsageError(f"{self.path}: unknown key {key!r} in {self.where}{hint}")

    def typed(self, table: dict[str, Any], key: str, kind: type, expected: str, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(key, expected, value)
        return value

    def strings(self, table: dict[str, Any], key: str) -> list[str]:
        value = self.typed(table, key, list, "a list of strings", [])
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "a list of strings", value)
        return value

    def codes(self, table: dict[str, Any], key: str, label: str | None = None) -> list[str]:
        label = label or key
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(label, 'a list of rule codes or prefixes like ["EXL1", "EXL203"]', value)
        return check_codes(value, f"{self.path}: {self.where} {label}")

    def targets(self, table: dict[str, Any], key: str) -> list[Target]:
        if key not in table:
            return []
        return check_targets(self.strings(table, key), f"{self.path}: {self.where} {key}")

    def normalisation(self, table: dict[str, Any]) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
        mean, std = (self._floats(table, k) for k in ("mean", "std"))
        check_normalisation(mean, std, f"{self.path}: {self.where}")
        return mean, std

    def _floats(self, table: dict[str, Any], key: str) -> tuple[float, ...] | None:
        value = self.typed(table, key, list, "a list of numbers", None)
        if value is None:
            return None
        if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise self.fail(key, "a non-empty list of numbers", value)
        return tuple(float(v) for v in value)
