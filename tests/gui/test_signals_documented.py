"""House style: every QObject in the window lists its signals, with argument types, in its
class docstring ("Signals:", as qutebrowser does), so a reader never has to guess what a
slot receives."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from PySide6.QtCore import QMetaMethod, QObject

import batchgui.ui


def ui_classes() -> list[type[QObject]]:
    found = []
    for info in pkgutil.iter_modules(batchgui.ui.__path__):
        module = importlib.import_module(f"batchgui.ui.{info.name}")
        for cls in vars(module).values():
            if (inspect.isclass(cls) and issubclass(cls, QObject)
                    and cls.__module__ == module.__name__):
                found.append(cls)
    return found


def own_signals(cls: type[QObject]) -> dict[str, int]:
    """Signal name -> number of arguments, for the signals the class itself declares."""
    meta = cls.staticMetaObject
    signals = {}
    for i in range(meta.methodOffset(), meta.methodCount()):
        method = meta.method(i)
        if method.methodType() == QMetaMethod.MethodType.Signal:
            signals[bytes(method.name().data()).decode()] = method.parameterCount()
    return signals


def documented_arguments(doc: str, name: str) -> int | None:
    match = re.search(rf"\b{name}\(([^)]*)\)", doc)
    if match is None:
        return None
    inside = re.sub(r"\[[^\]]*\]", "", match.group(1)).strip()  # list[tuple[str, str]]: one
    return len(inside.split(",")) if inside else 0


def test_every_signal_is_documented_with_its_arguments() -> None:
    classes = ui_classes()
    assert len(classes) > 10
    problems = []
    for cls in classes:
        doc = inspect.getdoc(cls) or ""
        if "Signals:" not in doc:
            problems.append(f"{cls.__name__}: no 'Signals:' in the docstring")
            continue
        for name, count in own_signals(cls).items():
            documented = documented_arguments(doc, name)
            if documented != count:
                problems.append(f"{cls.__name__}.{name}: {count} argument(s), "
                                f"documented as {documented}")
    assert problems == []
