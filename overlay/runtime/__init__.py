"""The live pipeline: threads, queues and supervision, with no modality wired in."""
