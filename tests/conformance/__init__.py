"""Real Azure Batch exchanges (README.md) and the tools that replay them on the emulator."""
