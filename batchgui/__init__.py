"""BatchGUI: turn piles of video files into MP3s, on this computer or on Azure Batch."""

__version__ = "0.1.0"
