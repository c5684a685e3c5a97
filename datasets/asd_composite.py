"""A COMPOSITED, labelled audio-visual active-speaker set built from real parts (offline default).

No talking-face video with sound ships in any package, so each scene is composited:

- faces: real photographs, the 100 faces of scikit-image's ``lfw_subset`` (Labeled Faces in the Wild,
  25x25 grayscale, upscaled), split 70/15/15 into train/val/test identities;
- speech: real recorded prompts, Debian's ``asterisk-core-sounds-en-wav`` (Allison's voice, CC-BY-SA-3.0),
  shipped as ``samples/asd_speech.npz`` (prepared by ``prepare_asd_sample``), split 70/15/15 by prompt;
- mouth motion: the lower face is overdrawn with a dark mouth whose opening follows the speech envelope
  (RMS per 40 ms video frame) of the utterance the face "says";
- a scene: 2-3 faces side by side on a plain background, drifting slowly, speaking in turns; a turn may also
  belong to an off-screen voice or to nobody; non-speaking faces often *mouth* another, unheard utterance
  (so a moving mouth alone does not mean speech), and the audio never says which face speaks (so sound
  alone does not either) — only matching the mouth to the sound does.

Labels per face and frame: speaking (1) when the face's own utterance is voiced in that frame (envelope
above ``VOICED``), else 0. Everything is deterministic given the seed.

    from spanmix.datasets.asd_composite import load_speech, SceneMaker
    maker = SceneMaker("train", seed=0)
    scene = maker.scene(7)        # frames (T, H, W, 3) uint8, audio (T*640,), boxes (F, T, 4), labels (F, T)

Say "composited" wherever these scenes are shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SPEECH_SAMPLE", "Scene", "SceneMaker", "load_faces", "load_speech", "speech_envelope"]

SAMPLES = Path(__file__).resolve().parent / "samples"
SPEECH_SAMPLE = SAMPLES / "asd_speech.npz"
FPS, SAMPLE_RATE = 25.0, 16000
HOP = int(SAMPLE_RATE / FPS)  # 640 samples per video frame
VOICED = 0.12
SPLITS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}


def _split(n: int, split: str) -> slice:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    lo, hi = SPLITS[split]
    return slice(int(round(lo * n)), int(round(hi * n)))


def load_faces(split: str) -> np.ndarray:
    """The split's LFW faces from scikit-image, (N, 25, 25) float in [0, 1]."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]  # the first 100 are faces, the rest non-faces
    return faces[_split(len(faces), split)]


def load_speech(split: str, path: str | Path = SPEECH_SAMPLE) -> list[np.ndarray]:
    """The split's utterances, each (N,) float32 at 16 kHz (stored as 8 kHz int16, upsampled here)."""
    import torch
    import torchaudio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate it with "
                                "`python -m spanmix.datasets.prepare_asd_sample` (needs Debian's "
                                "asterisk-core-sounds-en-wav)")
    with np.load(path) as data:
        pcm, offsets, rate = data["pcm"], data["offsets"], int(data["sample_rate"])
    clips = [pcm[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    out = []
    for clip in clips[_split(len(clips), split)]:
        wave = torch.from_numpy(clip.astype(np.float32) / 32768.0)
        out.append(torchaudio.functional.resample(wave, rate, SAMPLE_RATE).numpy())
    return out


def speech_envelope(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """RMS of each 40 ms video frame, scaled by the 95th percentile of the voiced frames, clipped to [0, 1]."""
    audio = np.pad(audio[: n_frames * HOP], (0, max(0, n_frames * HOP - len(audio))))
    rms = np.sqrt((audio.reshape(n_frames, HOP) ** 2).mean(1))
    ref = np.percentile(rms, 95) if rms.max() > 0 else 1.0
    return np.clip(rms / max(ref, 1e-6), 0, 1)


@dataclass
class Scene:
    """One composited scene. ``boxes`` (F, T, 4) x1, y1, x2, y2 of each face; ``labels`` (F, T) int."""

    frames: np.ndarray
    audio: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


class SceneMaker:
    """Composited scenes for one split (module docstring). ``scene(i)`` is deterministic in (seed, split, i).

    Args:
        frames: scene length in video frames (25 fps). faces: faces per scene (2-3 drawn at random when None).
        width, height: canvas size. face_px: face size range in pixels.
        p_offscreen, p_silence: probability that a turn is an off-screen voice or silence.
        p_mouthing: probability that a silent face mouths an unheard utterance during a turn.
    """

    def __init__(self, split: str, seed: int = 0, frames: int = 64, faces: int | None = None,
                 width: int = 320, height: int = 180, face_px: tuple[int, int] = (64, 84),
                 p_offscreen: float = 0.15, p_silence: float = 0.1, p_mouthing: float = 0.6,
                 speech_path: str | Path = SPEECH_SAMPLE):
        self.split, self.seed, self.n_frames, self.n_faces = split, seed, frames, faces
        self.width, self.height, self.face_px = width, height, face_px
        self.p_offscreen, self.p_silence, self.p_mouthing = p_offscreen, p_silence, p_mouthing
        self.faces = load_faces(split)
        self.speech = load_speech(split, speech_path)
        self.split_id = sorted(SPLITS).index(split)

    def _utterance(self, rng: np.random.Generator, n_samples: int) -> np.ndarray:
        """A random chunk of ``n_samples`` from a random utterance (repeated if too short)."""
        clip = self.speech[rng.integers(len(self.speech))]
        if len(clip) < n_samples:
            clip = np.tile(clip, int(np.ceil(n_samples / len(clip))))
        start = rng.integers(0, len(clip) - n_samples + 1)
        return clip[start:start + n_samples] * rng.uniform(0.5, 1.0)

    def scene(self, index: int) -> Scene:
        import cv2

        rng = np.random.default_rng([self.seed, self.split_id, index])
        T, W, H = self.n_frames, self.width, self.height
        n_faces = self.n_faces or int(rng.integers(2, 4))
        # Turns: 0.6-1.6 s each, owned by a face, an off-screen voice (-1) or nobody (-2).
        owner = np.full(T, -2)
        t = 0
        while t < T:
            length = int(rng.integers(15, 41))
            r = rng.random()
            owner[t:t + length] = -2 if r < self.p_silence else -1 if r < self.p_silence + self.p_offscreen \
                else rng.integers(n_faces)
            t += length
        audio = np.zeros(T * HOP, np.float32)
        openness = np.zeros((n_faces, T))
        labels = np.zeros((n_faces, T), np.int64)
        for start in np.flatnonzero(np.diff(np.concatenate([[-99], owner])) != 0):
            end = start + 1
            while end < T and owner[end] == owner[start]:
                end += 1
            who = owner[start]
            if who != -2:
                speech = self._utterance(rng, (end - start) * HOP)
                audio[start * HOP:end * HOP] += speech
                env = speech_envelope(speech, end - start)
                if who >= 0:
                    openness[who, start:end] = env
                    labels[who, start:end] = env > VOICED
            for face in range(n_faces):
                if face != who and rng.random() < self.p_mouthing:  # mouths an unheard utterance
                    openness[face, start:end] = speech_envelope(self._utterance(rng, (end - start) * HOP),
                                                                end - start)
        audio += rng.normal(0, rng.uniform(0.002, 0.01), audio.shape).astype(np.float32)
        # Layout: faces side by side, each drifting slowly.
        size = rng.integers(*self.face_px, size=n_faces)
        slots = (np.arange(n_faces) + 0.5) * W / n_faces
        ids = rng.choice(len(self.faces), n_faces, replace=False)
        background = rng.uniform(60, 190) + np.linspace(-25, 25, H)[:, None] * rng.choice([-1, 1])
        background = np.repeat(np.clip(background + np.zeros((H, W)), 0, 255)[..., None], 3, -1)
        tint = rng.uniform(0.8, 1.2, size=(n_faces, 3))
        boxes = np.zeros((n_faces, T, 4))
        frames = np.empty((T, H, W, 3), np.uint8)
        drift = np.cumsum(rng.normal(0, 0.4, size=(n_faces, T, 2)), axis=1)
        patches = [cv2.resize((self.faces[i] * 255).astype(np.float32), (int(s), int(s)),
                              interpolation=cv2.INTER_CUBIC) for i, s in zip(ids, size)]
        for t in range(T):
            canvas = background.copy()
            for f in range(n_faces):
                s = int(size[f])
                x1 = int(np.clip(slots[f] - s / 2 + drift[f, t, 0], 0, W - s))
                y1 = int(np.clip((H - s) / 2 + drift[f, t, 1], 0, H - s))
                face = _draw_mouth(patches[f].copy(), openness[f, t])
                canvas[y1:y1 + s, x1:x1 + s] = face[..., None] * tint[f]
                boxes[f, t] = (x1, y1, x1 + s, y1 + s)
            frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
        return Scene(frames=frames, audio=np.clip(audio, -1, 1), boxes=boxes, labels=labels)


def _draw_mouth(face: np.ndarray, openness: float) -> np.ndarray:
    """A dark mouth on a (s, s) float face: an ellipse at 76 % height whose height follows ``openness``."""
    import cv2

    s = face.shape[0]
    centre = (int(round(0.5 * s)), int(round(0.77 * s)))
    axes = (max(1, int(round(0.15 * s))), max(1, int(round(0.02 * s + 0.12 * s * float(openness)))))
    mouth = np.zeros_like(face)
    cv2.ellipse(mouth, centre, axes, 0, 0, 360, 1.0, -1, lineType=cv2.LINE_AA)
    return face * (1 - 0.85 * mouth) + 20 * 0.85 * mouth
