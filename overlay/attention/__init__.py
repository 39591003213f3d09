"""Where the user looks: head pose and eye contact with the camera."""
