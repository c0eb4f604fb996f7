"""Explainers: servers that answer ``:explain`` by calling the predictor through the platform.

==============  =============================================  ================================
name            class / factory                                what it answers
==============  =============================================  ================================
``art``         :class:`.art.ArtExplainer`                     KServe's ART ``SquareAttack``
``kernelshap``  :class:`.kernelshap.KernelShapExplainer`       Kernel SHAP values (numpy only)
==============  =============================================  ================================

Both run as ``zeroserve serve art|kernelshap --model_name N --predictor_host HOST``; the predictor
is reached through the transformer-mode predictor client (:mod:`.predictor`).
"""

from zeroserve.servers.explainers.art import ArtExplainer, build_art
from zeroserve.servers.explainers.kernelshap import KernelShapExplainer, build_kernelshap, read_background

__all__ = ["ArtExplainer", "KernelShapExplainer", "build_art", "build_kernelshap", "read_background"]
