"""Synthetic live-venue training data (docs/architecture.md, section 5): procedural music or folders of real audio,
production styles rendered with ``ddsp_kernels``, club and phone impulse responses, crowd noise; shards + manifest."""
