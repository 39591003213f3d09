"""Files that hold the user's data: owner-only permissions and advisory locks."""
