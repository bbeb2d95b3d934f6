"""Host-side evaluation: the paper's metrics (``metrics``), the non-neural Baseline (``baseline``), figures
(``plots``) and the ``aebox-edge demo`` (``demo``)."""
