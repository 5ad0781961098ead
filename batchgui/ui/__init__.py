"""The window: Qt widgets and models only; it talks to the core through one RunController."""

from batchgui.ui.qt_fixes import guard_bool_refcounts

guard_bool_refcounts()
