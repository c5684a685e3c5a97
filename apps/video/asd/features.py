"""Model inputs from a decoded clip: 112x112 grayscale face crops per track and log-mel audio frames.

Audio features follow VGGish's front end (Hershey et al. 2017; ``torchvggish/vggish_input.py`` in the
official code): 16 kHz mono, magnitude STFT with a 25 ms periodic Hann window and a 10 ms hop
(n_fft 512), 64 HTK mel bins over 125-7500 Hz, ``log(mel + 0.01)``. Frames are centred (frame k covers
time k * 10 ms), so at 25 fps video frame t owns audio frames 4t .. 4t+3: exactly
``AUDIO_FRAMES_PER_VIDEO_FRAME = 4``. Departure: VGGish cuts frames into 0.96 s examples; here the model
takes the whole track.

Face crops follow TalkNet's demo (re-derived): a square around the (smoothed) box centre whose side is
``scale`` times the box's longer side, the frame padded with grey (110) where the square leaves it,
converted to grayscale and resized to ``size`` x ``size``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["AUDIO_FRAMES_PER_VIDEO_FRAME", "FPS", "SAMPLE_RATE", "LogMel", "augment_track", "crop_faces", "log_mel",
           "mix_noise"]

FPS = 25.0
SAMPLE_RATE = 16000
HOP = 160
AUDIO_FRAMES_PER_VIDEO_FRAME = 4  # 40 ms video frame / 10 ms hop


class LogMel(torch.nn.Module):
    """(..., N) waveform at 16 kHz -> (..., frames, 64) log-mel, ``frames = N // 160 + 1`` (centred)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_mels: int = 64, f_min: float = 125.0,
                 f_max: float = 7500.0, win_ms: float = 25.0, hop_ms: float = 10.0, log_offset: float = 0.01):
        super().__init__()
        import torchaudio

        win = int(round(sample_rate * win_ms / 1000))
        hop = int(round(sample_rate * hop_ms / 1000))
        n_fft = 1 << (win - 1).bit_length()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win, hop_length=hop, f_min=f_min, f_max=f_max,
            n_mels=n_mels, power=1.0, center=True, pad_mode="reflect", mel_scale="htk", norm=None,
            window_fn=torch.hann_window)
        self.log_offset = log_offset

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mel(wave) + self.log_offset).transpose(-1, -2)


_LOG_MEL: LogMel | None = None


def log_mel(audio: np.ndarray, n_video_frames: int | None = None) -> np.ndarray:
    """(N,) float audio at 16 kHz -> (4 * n_video_frames, 64) float32 log-mel (zero-padded or cut so that
    video frame t owns rows 4t .. 4t+3; ``n_video_frames`` defaults to ``N / 640``)."""
    global _LOG_MEL
    audio = np.asarray(audio, np.float32).reshape(-1)
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or infinite samples")
    if n_video_frames is None:
        n_video_frames = int(np.ceil(len(audio) / (SAMPLE_RATE / FPS)))
    n_samples = int(round(n_video_frames * SAMPLE_RATE / FPS))
    audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
    if _LOG_MEL is None:
        _LOG_MEL = LogMel()
    with torch.no_grad():
        feats = _LOG_MEL(torch.from_numpy(audio)).numpy()
    return feats[: AUDIO_FRAMES_PER_VIDEO_FRAME * n_video_frames].astype(np.float32)


def crop_faces(frames: np.ndarray, frame_indices: np.ndarray, boxes: np.ndarray, size: int = 112,
               scale: float = 1.3, pad_value: int = 110) -> np.ndarray:
    """Grayscale ``size`` x ``size`` crops (len(frame_indices), size, size) uint8 of ``frames`` (T, H, W, 3)
    around ``boxes`` (x1, y1, x2, y2 per index)."""
    import cv2

    out = np.empty((len(frame_indices), size, size), np.uint8)
    for k, (t, box) in enumerate(zip(frame_indices, boxes)):
        gray = cv2.cvtColor(frames[int(t)], cv2.COLOR_RGB2GRAY)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = max(box[2] - box[0], box[3] - box[1]) * scale / 2
        half = max(half, 2.0)
        x1, y1 = int(round(cx - half)), int(round(cy - half))
        side = int(round(2 * half))
        pad = side + 1
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=pad_value)
        x1, y1 = np.clip(x1 + pad, 0, padded.shape[1] - side), np.clip(y1 + pad, 0, padded.shape[0] - side)
        out[k] = cv2.resize(padded[y1:y1 + side, x1:x1 + side], (size, size), interpolation=cv2.INTER_AREA)
    return out


def augment_track(track: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One face track (T, size, size) uint8, flipped (p 1/2), cropped (side U(0.8, 1), anywhere inside) and
    rotated (U(-15, 15) degrees) alike in every frame: the training augmentation of ``asd.data`` and
    ``datasets.ava.TalkNetClips`` (ranges ours)."""
    import cv2

    size = track.shape[-1]
    side = rng.uniform(0.8, 1.0) * size
    x0, y0 = rng.uniform(0, size - side, 2)
    angle = rng.uniform(-15, 15)
    flip = rng.random() < 0.5
    # crop [x0, x0 + side) resized to the full side, rotated about the centre: one affine map per track
    rot = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    zoom = np.array([[size / side, 0, -x0 * size / side], [0, size / side, -y0 * size / side], [0, 0, 1]])
    m = (np.vstack([rot, [0, 0, 1]]) @ zoom)[:2]
    out = np.stack([cv2.warpAffine(f, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                    for f in track])
    return np.ascontiguousarray(out[..., ::-1]) if flip else out


def mix_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``audio`` with ``noise`` (cut or tiled to its length) added at ``snr_db`` dB (power ratio)."""
    noise = np.resize(np.asarray(noise, np.float32), len(audio))
    p_audio, p_noise = float(np.mean(audio ** 2)), float(np.mean(noise ** 2))
    if p_noise == 0 or p_audio == 0:
        return audio
    return (audio + noise * np.sqrt(p_audio / (p_noise * 10 ** (snr_db / 10)))).astype(np.float32)
