"""The console: display widget, console view with its toolbar, and the tabbed console window."""
