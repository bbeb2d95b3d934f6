"""File input and output: audio files (``audio``), the atomic-write rule and hashing (``atomic``), audio spooled
to disk between two passes (``spool``), and native stderr capture (``native``)."""
