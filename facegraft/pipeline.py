"""swap_video / swap_image: the one entry point every front end calls (being built)."""
