"""File input and output: audio files (``audio``), the atomic-write rule and hashing (``atomic``), and native
stderr capture (``native``)."""
