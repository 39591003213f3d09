"""The one running overlay process: its single-instance lock and its local control server."""
