"""Click parameter types shared by every command (click only: ``aebox-edge --help`` stays instant)."""

from __future__ import annotations

import math

import click


class FiniteFloat(click.FloatRange):
    """A float option that refuses NaN and +-Inf at parse time (exit 2, before any work), within the optional
    bounds of ``click.FloatRange``: a ``nan`` smoothing would otherwise turn the audio to NaN after the analysis."""

    name = "float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:  # the help's "[x>=0]"; nothing when unbounded
        return "" if self.min is None and self.max is None else super()._describe_range()


FINITE = FiniteFloat()  # any finite float
