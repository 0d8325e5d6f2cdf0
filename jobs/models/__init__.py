"""The models the product can call, found here: every module of this package that defines
`ADAPTER` (a `jobs.models.adapter.ModelAdapter`) adds its model. A new model is one new module.
"""

import importlib
import pkgutil

from jobs.models.adapter import ModelAdapter, ModelInput

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelAdapter", "ModelInput", "UnknownModel", "model_named"]


#: the model a batch calls when neither the command nor the settings name one
DEFAULT_MODEL = "bytedance/seedream-4.0"


class UnknownModel(ValueError):
    """A model name no adapter answers to."""


def _discover() -> dict[str, ModelAdapter]:
    found: dict[str, ModelAdapter] = {}
    for module in pkgutil.iter_modules(__path__):
        adapter = getattr(importlib.import_module(f"{__name__}.{module.name}"), "ADAPTER", None)
        if isinstance(adapter, ModelAdapter):
            found[adapter.name] = adapter
    return dict(sorted(found.items()))


#: every supported model by name
MODELS: dict[str, ModelAdapter] = _discover()


def model_named(name: str) -> ModelAdapter:
    """The adapter of `name`; UnknownModel listing the supported names otherwise."""
    adapter = MODELS.get(name)
    if adapter is None:
        raise UnknownModel(
            f"{name!r} is not a model this version supports: use one of {', '.join(MODELS)}"
        )
    return adapter
