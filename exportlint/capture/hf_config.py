"""Spec form `path/to/config.json`: a transformers architecture built from its config alone, without
weights, on the meta device: a 70B-parameter model's graph costs what a tiny one's does. See
docs/frontends.md ("transformers configs").

The class is the config's first `architectures` entry (`LlamaForCausalLM`), else `AutoModel`; the
model returns its first output (logits, last hidden state). Example inputs: token ids of shape 1×16
(`--input-shape`/`--input-dtype` change them; the dtype defaults to int64), on the meta device too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from exportlint.errors import LoadError

DEFAULT_SHAPE = "1,16"


def is_hf_config_spec(spec: str) -> bool:
    return spec.endswith(".json") and Path(spec).is_file()


class FirstOutput(torch.nn.Module):
    """A transformers model returning its first output only, as converters expect one tensor."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *args):
        return self.model(*args, return_dict=False)[0]


def load_hf_config(spec: str, shapes: list[str], dtypes: list[str]) -> tuple[Any, tuple]:
    """The model of the config file `spec` on the meta device, and meta token ids."""
    import transformers

    from exportlint.capture.spec import make_inputs

    try:
        data = json.loads(Path(spec).read_text(encoding="utf-8"))
        config = transformers.AutoConfig.for_model(**data)
    except (OSError, ValueError, TypeError, KeyError, ImportError) as exc:  # ImportError: a broken install
        raise LoadError(f"{spec}: not a transformers config ({type(exc).__name__}: {exc})") from None
    config.use_cache = False  # no KV cache: the graph of one forward pass over the whole input
    architecture = (getattr(config, "architectures", None) or [None])[0]
    model_class = getattr(transformers, architecture or "", None) or transformers.AutoModel
    with torch.device("meta"):
        try:
            model = model_class._from_config(config) if model_class is not transformers.AutoModel \
                else model_class.from_config(config)
        except Exception as exc:  # noqa: BLE001 - the config does not build its architecture
            raise LoadError(f"{spec}: {model_class.__name__} does not build from it: {exc}") from None
        inputs = make_inputs(shapes or [DEFAULT_SHAPE], dtypes or ["int64"])
    return FirstOutput(model).eval(), inputs
