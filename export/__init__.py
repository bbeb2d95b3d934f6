"""TF -> TFLite export of the analyser (float32, float16, dynamic, int8), its verification and metadata.
Depends on the ``train`` extra; see docs/architecture.md, section 8."""
