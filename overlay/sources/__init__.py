"""Where frames and sound come from: the contracts and registry (base), one module per source."""
