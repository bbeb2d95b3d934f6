"""Host-side evaluation: the paper's metrics (``metrics``) and their tables (``tables``), the non-neural Baseline
(``baseline``), figures (``plots``), the ``aebox-edge demo`` (``demo``) and the real-music device-path evaluation
with peers (``realmusic``)."""
