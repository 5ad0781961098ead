"""Pure-Python heart of BatchGUI. No Qt may be imported below this package."""
