"""Analysing stored recordings, and scoring the models on labelled data."""
