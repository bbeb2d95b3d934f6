"""The TensorFlow side of aebox-edge (docs/architecture.md, sections 4, 6, 7): Keras analysers (``networks``), TF twins
of the DSP chain (``dsp_tf``), SPSA through the numpy kernels (``spsa``), the DDSP layer with either gradient
(``ddsp_layer``), the loss (``losses``), input pipelines (``data``), run options (``config``), training (``train``),
evaluation (``evaluate``) and the ``train`` / ``eval`` commands (``cli``). Importing this package imports no
TensorFlow."""
