"""The words path: speech recognition in its own process, captions, and the text emotion model."""
