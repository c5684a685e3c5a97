"""Genomics app: HyenaDNA (Nguyen et al., NeurIPS 2023) pretraining, fine-tuning and generation."""
