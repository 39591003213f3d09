"""The face path: detection, landmarks, alignment, the expression model, blinks, and the face stage."""
