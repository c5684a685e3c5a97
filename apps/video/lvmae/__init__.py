"""LV-MAE long-video representations (Naiman et al., ICCV 2025): long video -> 5 s segments -> a frozen
short-clip encoder -> one L2-normalised embedding per segment (cached, resumable) -> a masked-embedding
autoencoder over the segment sequence (``spanmix.apps.video.models.lvmae``) -> attentive/linear probes.

Rooms: ``segments`` (cutting a video into segments), ``encoders`` (the frozen, pluggable short-clip
encoders), ``cache`` (embeddings on disk keyed by file hash + encoder; resumable extraction),
``masking`` (random and importance masking), ``data`` / ``task`` / ``cli`` (training and probing).
"""
