"""The VDI parts of the UI: golden images, desktop pools, the helpdesk view and the end-user portal."""
