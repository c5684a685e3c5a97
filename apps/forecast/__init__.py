"""Long-horizon time-series forecasting app (Informer, Gateformer, S-Mamba) on the spanmix backbone."""
