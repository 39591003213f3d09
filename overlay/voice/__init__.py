"""The voice path: voice activity, log-mel features, the voice emotion model, and the voice stage."""
