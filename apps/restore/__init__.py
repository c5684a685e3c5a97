"""Image-restoration app: MaIR (Li et al., CVPR 2025) for super-resolution, denoising, deblurring, dehazing."""
