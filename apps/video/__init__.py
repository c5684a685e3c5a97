"""Video apps: active speaker detection (``asd``: LoCoNet), more to come. ``spanmix video <sub> ...``."""
