"""How it was said: phrases and pauses from the sound, pitch and loudness, pace and fillers from the words.

sound (10 ms hops: level, speech, pitch; phrases between pauses) · pitch (YIN, ranges in
semitones) · fillers (in what the recognizer wrote) · figures (pace, pauses, fillers per minute,
pitch range, monotone, loudness, talk share: one set of rules for live, summary, export, review)
· stage (the live and `analyze` stage) · live (its StageSpec). Figures: bench/delivery.py.
"""
