"""The route engine: compiled moves with exact incremental evaluation (see docs/search.md)."""
