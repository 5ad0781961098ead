"""The window: Qt widgets and models only; it talks to the core through one RunController."""
