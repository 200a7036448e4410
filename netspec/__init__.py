"""netspec: a declarative architecture-spec compiler for PyTorch.

Write a network as a YAML spec; netspec validates it, infers every shape, parameter count and
MAC count statically, and compiles it to an ``nn.Module`` or to readable PyTorch source.

>>> import netspec
>>> vgg = netspec.load("vgg16", num_classes=10)
>>> vgg.summary()["output"]
[10]
>>> model = vgg.build()  # an nn.Module
"""

from netspec.api import Spec, load, loads
from netspec.errors import NetspecError

__version__ = "0.1.0"

__all__ = ["NetspecError", "Spec", "__version__", "load", "loads"]
