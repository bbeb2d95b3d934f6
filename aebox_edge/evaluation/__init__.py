"""Host-side evaluation: the paper's metrics (``metrics``) and their tables (``tables``), the non-neural Baseline
(``baseline``), figures (``plots``) and the ``aebox-edge demo`` (``demo``)."""
