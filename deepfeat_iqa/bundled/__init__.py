"""Files shipped with the package: the default quality model (``default.dfi``; docs/model-card.md)."""
