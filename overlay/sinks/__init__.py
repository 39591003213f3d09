"""Where annotated frames and readings go: the contracts and registry (base), one module per sink."""
