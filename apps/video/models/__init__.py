"""Video models: one file per paper model."""
