"""Every exception the SDK raises is importable from ``fireworks_training.errors``."""

from __future__ import annotations

import importlib
import pkgutil

import fireworks_training
from fireworks_training import errors


def _sdk_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(fireworks_training.__path__, "fireworks_training."):
        # The emulator is a separate service; the torch and CLI modules need extras.
        if ".emulator" in info.name or info.name.endswith(("_trainer_custom_loss", "__main__")):
            continue
        names.append(info.name)
    return names


def test_every_sdk_exception_class_is_exported_by_errors() -> None:
    exported = {getattr(errors, name) for name in errors.__all__}
    roots = (errors.FireworksError, errors.InvalidArgumentError)
    found: dict[str, type] = {}
    for module_name in _sdk_modules():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, roots)
                and not value.__name__.startswith("_")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    assert len(found) > 30
    missing = sorted(name for name, cls in found.items() if cls not in exported)
    assert missing == []
