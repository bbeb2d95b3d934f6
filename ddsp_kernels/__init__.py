"""numpy/scipy DSP of aebox-edge: RBJ biquads, the 6-band parametric EQ, the Giannoulis compressor, the
effect chain (offline and streaming) and its one parameter specification. No TensorFlow, no aebox_edge."""

from .biquads import MAX_FREQ_RATIO, rbj_sos
from .chain import StreamingChain, apply_chain
from .compressor import ballistics_coefficient, compressor, static_gain_db
from .eq import eq_sos, parametric_eq
from .spec import EQ_BANDS, PARAM_SPEC, Param, ParamSpec

__all__ = [
    "EQ_BANDS", "MAX_FREQ_RATIO", "PARAM_SPEC", "Param", "ParamSpec", "StreamingChain", "apply_chain",
    "ballistics_coefficient", "compressor", "eq_sos", "parametric_eq", "rbj_sos", "static_gain_db",
]
