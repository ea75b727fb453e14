"""The PySide6 user interface: models, windows, dialogs and widgets."""
