"""Music: chord-conditioned melody generation on CM-HRNN's lead-sheet events (``events``, ``chords``, ``convert``)."""
