"""Active speaker detection: from a raw clip to per-face speaking scores (LoCoNet, Wang et al. CVPR 2024).

The pipeline (``pipeline.run``) decodes a clip (``spanmix.datasets.video``), detects faces (``faces``), links
them into tracks (``tracking``), crops 112x112 grayscale faces and computes log-mel audio features
(``features``), scores each track with the model (``spanmix.apps.video.models.loconet``) and writes the AVA
result CSV and an annotated video (``output``).
"""
