"""The project's models: bundled files and their cards, ONNX sessions, and the upstream model store."""
