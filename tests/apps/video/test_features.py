"""Audio/visual feature alignment: 4 log-mel frames per 25 fps video frame; face crops."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spanmix.apps.video.asd.features import (AUDIO_FRAMES_PER_VIDEO_FRAME, SAMPLE_RATE, LogMel, crop_faces,
                                             log_mel)


def test_four_audio_frames_per_video_frame_and_a_click_lands_in_its_frame():
    n_frames = 50
    audio = np.zeros(n_frames * 640, np.float32)
    t_click = 23  # a burst inside video frame 23 (samples 23*640 .. 24*640)
    audio[t_click * 640 + 200: t_click * 640 + 440] = np.sin(np.arange(240) * 0.9) * 0.8
    feats = log_mel(audio)
    assert AUDIO_FRAMES_PER_VIDEO_FRAME == 4 and feats.shape == (4 * n_frames, 64)
    energy = feats.reshape(n_frames, 4, 64).max(axis=(1, 2))
    assert int(np.argmax(energy)) == t_click
    # A cut/padded call for a given number of frames keeps the same rows.
    np.testing.assert_allclose(log_mel(audio, 30), feats[:120], atol=1e-5)
    assert log_mel(audio[:1000], 10).shape == (40, 64)


def test_log_mel_matches_the_vggish_definition():
    # VGGish: |STFT| with a 400-sample periodic Hann window (n_fft 512, hop 160), HTK mel 125-7500 Hz, log(x+0.01)
    import torchaudio

    rng = np.random.default_rng(0)
    wave = torch.from_numpy(rng.normal(0, 0.1, SAMPLE_RATE).astype(np.float32))
    ours = LogMel()(wave)
    window = torch.zeros(512)
    window[56:456] = torch.hann_window(400)  # torch.stft centres a shorter window inside n_fft
    spec = torch.stft(torch.nn.functional.pad(wave[None, None], (256, 256), mode="reflect")[0, 0], 512, 160,
                      window=window, center=False, return_complex=True).abs()
    fb = torchaudio.functional.melscale_fbanks(257, 125.0, 7500.0, 64, SAMPLE_RATE, norm=None, mel_scale="htk")
    ref = torch.log(spec.T @ fb + 0.01)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_log_mel_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        log_mel(np.array([0.0, np.nan], np.float32))


def test_crops_are_grayscale_112_and_centred_on_the_box():
    frames = np.full((2, 120, 160, 3), 30, np.uint8)
    frames[:, 40:80, 60:100] = 220  # a bright square "face"
    crops = crop_faces(frames, np.array([0, 1]), np.array([[60, 40, 100, 80]] * 2), size=112, scale=1.0)
    assert crops.shape == (2, 112, 112) and crops.dtype == np.uint8
    assert crops[:, 10:100, 10:100].min() > 200  # the box fills the crop
    # A box at the border is padded with grey, never an error.
    edge = crop_faces(frames, np.array([0]), np.array([[-20, -20, 20, 20]]), size=64, scale=1.0)
    assert edge.shape == (1, 64, 64) and (edge[0, :20, :20] == 110).all()
