"""numpy DSP of aebox-edge: RBJ biquads, the 6-band parametric EQ, the Giannoulis compressor, the
effect chain (offline and streaming) and its one parameter specification. No TensorFlow, no aebox_edge."""

from .biquads import MAX_FREQ_RATIO, rbj_sos
from .chain import StreamingChain, apply_chain, compressor_args, eq_bands
from .compressor import ballistics_coefficient, compressor, static_gain_db
from .eq import eq_sos, parametric_eq
from .spec import BANDS, EQ_BANDS, PARAM_SPEC, Band, Param, ParamSpec

__all__ = [
    "BANDS", "EQ_BANDS", "MAX_FREQ_RATIO", "PARAM_SPEC", "Band", "Param", "ParamSpec", "StreamingChain",
    "apply_chain", "ballistics_coefficient", "compressor", "compressor_args", "eq_bands", "eq_sos", "parametric_eq",
    "rbj_sos", "static_gain_db",
]
