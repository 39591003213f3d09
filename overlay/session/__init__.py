"""Sessions: the timeline file, what is recorded, where sessions live, summaries, exports, review."""
