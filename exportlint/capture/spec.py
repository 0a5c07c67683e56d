"""Model specs: `path/to/file.py:factory` or `package.module:factory`, and example inputs."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from exportlint.errors import UsageError


def parse_spec(spec: str) -> tuple[str, str]:
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        raise UsageError(f"model spec {spec!r} must be 'path/to/file.py:factory' or 'package.module:factory'")
    return target, attr


def load_factory(spec: str) -> Callable[[], Any]:
    """Import the module named by `spec` and return its factory. Raises UsageError on any failure."""
    target, attr = parse_spec(spec)
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise UsageError(f"{target}: no such file")
        name = f"_exportlint_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path.resolve())
        module = importlib.util.module_from_spec(module_spec)
        sys.path.insert(0, str(path.resolve().parent))  # let the file import its siblings
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's module failed to import
            raise UsageError(f"{target}: import failed: {type(exc).__name__}: {_first_line(exc)}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"{target}: import failed: {type(exc).__name__}: {_first_line(exc)}") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise UsageError(f"{target} has no attribute {attr!r}")
    if not callable(factory):
        raise UsageError(f"{spec}: {attr!r} is not callable")
    return factory


def call_factory(spec: str) -> tuple[Any, tuple | None]:
    """Run the factory: returns (model, example inputs or None)."""
    factory = load_factory(spec)
    try:
        made = factory()
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"{spec}: factory raised {type(exc).__name__}: {_first_line(exc)}") from None
    if isinstance(made, tuple) and len(made) == 2 and not _is_tensor(made[0]):
        model, inputs = made
        if _is_tensor(inputs):
            inputs = (inputs,)
        if not isinstance(inputs, (tuple, list)):
            raise UsageError(f"{spec}: factory returned ({type(model).__name__}, {type(inputs).__name__}); "
                             "example inputs must be a tensor or a tuple of tensors")
        return model, tuple(inputs)
    return made, None


def _is_tensor(value: Any) -> bool:
    return type(value).__name__ in ("Tensor", "EagerTensor", "Parameter")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise UsageError(f"--input-shape {text!r}: expected comma-separated integers like 1,3,224,224") from None
    if not shape or any(d <= 0 for d in shape):
        raise UsageError(f"--input-shape {text!r}: every dimension must be a positive integer")
    return shape


def make_inputs(shapes: list[str], dtypes: list[str]) -> tuple:
    """Random example inputs for `--input-shape` / `--input-dtype` (one dtype for all, or one each)."""
    import torch

    if len(dtypes) not in (0, 1, len(shapes)):
        raise UsageError(f"give one --input-dtype for all inputs or one per --input-shape ({len(shapes)})")
    inputs = []
    for i, text in enumerate(shapes):
        name = (dtypes[i] if len(dtypes) == len(shapes) else dtypes[0]) if dtypes else "float32"
        dtype = getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            raise UsageError(f"--input-dtype {name!r} is not a torch dtype (float32, int64, bool, ...)")
        shape = parse_shape(text)
        if dtype.is_floating_point:
            inputs.append(torch.randn(shape, dtype=dtype))
        elif dtype == torch.bool:
            inputs.append(torch.rand(shape) > 0.5)
        else:
            inputs.append(torch.randint(0, 10, shape, dtype=dtype))
    return tuple(inputs)
