"""Model specs: `path/to/file.py:factory` or `package.module:factory`, and example inputs."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from exportlint.errors import LoadError, UsageError, check_regular_file


def parse_spec(spec: str) -> tuple[str, str]:
    target, sep, attr = spec.rpartition(":")
    if not sep and not os.path.lexists(spec):
        raise UsageError(f"{spec}: no such file or directory (a model spec is 'path/to/file.py:factory' "
                         "or 'package.module:factory')")
    if not sep:  # an existing file: a checkpoint, weights, ...
        raise UsageError(f"{spec}: not a model spec; give file.py:factory, an .onnx, .keras or .h5 file or a "
                         "SavedModel directory (exportlint never unpickles .pt/.pkl files)")
    if not target or not attr.isidentifier():
        raise UsageError(f"model spec {spec!r} must be 'path/to/file.py:factory' or 'package.module:factory'")
    return target, attr


@contextlib.contextmanager
def user_code(spec: str) -> Iterator[None]:
    """While the user's code runs (import, factory, capture): its prints, Python-level and on fd 1, go
    to stderr, so that stdout holds only the report; `sys.exit` or Ctrl-C in it is a LoadError."""
    sys.stdout.flush()
    saved_stdout, saved_fd = sys.stdout, os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    except SystemExit as exc:
        raise LoadError(f"{spec}: the model's code called sys.exit({exc.code!r})", _location(exc)) from None
    except KeyboardInterrupt as exc:
        raise LoadError(f"{spec}: KeyboardInterrupt while running the model's code", _location(exc)) from None
    except BaseException as exc:
        if isinstance(exc, Exception):  # exportlint's own: not the model's
            raise
        raise LoadError(f"{spec}: the model's code raised {type(exc).__name__}", _location(exc)) from None
    finally:
        sys.stdout.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Library work without its noise: torch's logs and warnings, what it and the converters print to
    Python's stderr (a failed torch.export's partial graph, progress bars); their errors still raise.
    The user's own prints still reach stderr (`user_code` made sys.stdout the original stderr)."""
    import io
    import logging

    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # errors raise; torch also logs some (a fake-tensor's broadcast)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _location(exc: BaseException):
    from exportlint.capture.locate import exception_frames, locate

    return locate(exception_frames(exc))[0]


def _failed(what: str, exc: BaseException) -> LoadError:
    return LoadError(f"{what} {type(exc).__name__}: {_first_line(exc)}", _location(exc))


def is_file_target(target: str) -> bool:
    """The part of a spec before `:factory` names a file (`models/net.py`), not a module (`pkg.net`)."""
    return target.endswith(".py") or "/" in target or "\\" in target


def load_factory(spec: str) -> Callable[[], Any]:
    """Import the module named by `spec` and return its factory. UsageError for a missing file,
    LoadError for a module that does not import or has no such factory."""
    target, attr = parse_spec(spec)
    if is_file_target(target):
        path = Path(target)
        if not os.path.lexists(path):
            raise UsageError(f"{target}: no such file")
        check_regular_file(path)
        name = f"_exportlint_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path.resolve())
        module = importlib.util.module_from_spec(module_spec)
        sys.path.insert(0, str(path.resolve().parent))  # let the file import its siblings
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's module failed to import
            raise _failed(f"{target}: import failed:", exc) from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:  # noqa: BLE001
            raise _failed(f"{target}: import failed:", exc) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise LoadError(f"{target} has no attribute {attr!r}")
    if not callable(factory):
        raise LoadError(f"{spec}: {attr!r} is not callable")
    return factory


def call_factory(spec: str) -> tuple[Any, tuple | None]:
    """Run the factory: returns (model, example inputs or None)."""
    factory = load_factory(spec)
    try:
        made = factory()
    except Exception as exc:  # noqa: BLE001
        raise _failed(f"{spec}: factory raised", exc) from None
    if made is None or isinstance(made, tuple) and len(made) != 2:
        raise LoadError(f"{spec}: the factory returned {describe(made)}; "
                        "expected a model or (model, example_inputs)")
    if isinstance(made, tuple) and not _is_tensor(made[0]):
        model, inputs = made
        if _is_tensor(inputs):
            inputs = (inputs,)
        if not isinstance(inputs, (tuple, list)):
            raise LoadError(f"{spec}: factory returned ({type(model).__name__}, {type(inputs).__name__}); "
                            "example inputs must be a tensor or a tuple of tensors")
        return model, tuple(inputs)
    return made, None


def describe(value: Any) -> str:
    """What a factory returned, for messages: `None`, `a str ('abc')`, `a 3-tuple (Linear, Tensor, Tensor)`."""
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return f"a {len(value)}-tuple ({', '.join(type(v).__name__ for v in value)})"
    name = type(value).__name__
    shown = f" ({value!r:.40})" if isinstance(value, (str, bytes, int, float)) else ""
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}{shown}"


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


def _check_memory(shapes: list[str], needed: int) -> None:
    """UsageError before allocating inputs that cannot fit: the allocator's own error names no input.
    A forward pass needs several times its inputs, so they may take half the available memory."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on this platform
        return
    if needed > available // 2:
        raise UsageError(f"--input-shape {' '.join(shapes)}: the inputs alone take {needed / 2**30:.1f} GB, "
                         f"more than half the {available / 2**30:.1f} GB of memory available")


def make_inputs(shapes: list[str], dtypes: list[str]) -> tuple:
    """Random example inputs for `--input-shape` / `--input-dtype` (one dtype for all, or one each)."""
    import torch

    if len(dtypes) not in (0, 1, len(shapes)):
        raise UsageError(f"give one --input-dtype for all inputs or one per --input-shape ({len(shapes)})")
    specs = []
    for i, text in enumerate(shapes):
        name = (dtypes[i] if len(dtypes) == len(shapes) else dtypes[0]) if dtypes else "float32"
        dtype = getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            raise UsageError(f"--input-dtype {name!r} is not a torch dtype (float32, int64, bool, ...)")
        specs.append((parse_shape(text), dtype))
    _check_memory(shapes, sum(math.prod(shape) * dtype.itemsize for shape, dtype in specs))
    inputs = []
    for shape, dtype in specs:
        if dtype.is_floating_point:
            inputs.append(torch.randn(shape, dtype=dtype))
        elif dtype == torch.bool:
            inputs.append(torch.rand(shape) > 0.5)
        else:
            inputs.append(torch.randint(0, 10, shape, dtype=dtype))
    return tuple(inputs)
