"""Where frames come from: one module per kind of source (video file; camera and OBS follow)."""
