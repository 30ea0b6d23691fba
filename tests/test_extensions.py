"""Every extension imports, exposes a lightbulb Loader, and is loaded by the app."""

from __future__ import annotations

import importlib
import pkgutil

import lightbulb

import extensions
from castbot_hikari.app import EXTENSIONS


def extension_modules() -> list[str]:
    found: list[str] = []
    for info in pkgutil.iter_modules(extensions.__path__, prefix="extensions."):
        module = importlib.import_module(info.name)
        if isinstance(getattr(module, "loader", None), lightbulb.Loader):
            found.append(info.name)
    return found


def test_every_extension_exposes_a_loader_and_is_loaded_by_the_app() -> None:
    modules = extension_modules()
    assert "extensions.apply" in modules
    assert sorted(modules) == sorted(EXTENSIONS)


def test_every_extension_module_is_an_extension() -> None:
    names = [info.name for info in pkgutil.iter_modules(extensions.__path__, prefix="extensions.")]
    assert sorted(names) == sorted(extension_modules())
