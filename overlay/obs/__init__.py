"""OBS Studio through obs-websocket v5: the connection and the overlay's scene and sources."""
