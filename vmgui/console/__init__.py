"""Console sessions (VNC, SPICE), .vv files and URLs; the protocol side has no widgets."""
