"""The EEG app: DBConformer (and the EEGNet / EEG Conformer baselines) on EEG epochs read with MNE.

``spanmix eeg fit --config apps/eeg/configs/<model>_<dataset>.yaml``; see ``cli``, ``data``, ``task``,
``evaluation`` (CO / CV / LOSO) and ``models``.
"""
