"""Where annotated frames go: one module per kind of sink (virtual camera; file, OBS and preview follow)."""
