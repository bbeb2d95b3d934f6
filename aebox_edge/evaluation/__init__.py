"""Evaluation of aebox-edge: the real-music device-path evaluation with peers (``realmusic``)."""
