"""Reading and writing the streams of media files: sound from recordings, sound put back under video."""
