"""File input and output: audio files (``audio``)."""
