"""The composited offline set and the data module: deterministic, labelled, aligned, split-disjoint."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spanmix.apps.video.asd.data import ASDDataModule, CompositeASD, collate
from spanmix.datasets.asd_composite import SceneMaker, load_faces, load_speech, speech_envelope


@pytest.fixture(scope="module")
def maker():
    return SceneMaker("val", seed=0, frames=40)


def test_scene_is_deterministic_and_labelled(maker):
    a, b = maker.scene(3), maker.scene(3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.frames.shape == (40, 180, 320, 3) and a.audio.shape == (40 * 640,)
    n_faces = a.labels.shape[0]
    assert 2 <= n_faces <= 3 and a.boxes.shape == (n_faces, 40, 4)
    assert (a.labels.sum(0) <= 1).all()  # at most one visible face speaks at a time
    assert not np.array_equal(maker.scene(4).frames, a.frames)


def test_labels_follow_the_audio(maker):
    # Frames where a face is labelled speaking carry speech energy; the scene's quietest frames carry none.
    for i in range(4):
        scene = maker.scene(i)
        env = speech_envelope(scene.audio, 40)
        speaking = scene.labels.any(0)
        if speaking.any():
            assert env[speaking].mean() > 2 * np.percentile(env, 10)


def test_splits_share_no_face_and_no_utterance():
    faces = {s: load_faces(s) for s in ("train", "val", "test")}
    assert sum(len(f) for f in faces.values()) == 100
    for s, t in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not any(np.array_equal(x, y) for x in faces[s] for y in faces[t])
    speech = {s: load_speech(s) for s in ("train", "val", "test")}
    assert min(len(v) for v in speech.values()) >= 3
    assert not any(len(x) == len(y) and np.array_equal(x, y) for x in speech["train"] for y in speech["test"])


def test_dataset_items_and_collate():
    ds = CompositeASD("val", scenes=2, frames=20, face_size=48, speakers=3)
    item = ds[0]
    assert item["faces"].shape == (3, 20, 48, 48) and item["faces"].dtype == torch.uint8
    assert item["audio"].shape == (80, 64) and item["labels"].shape == (3, 20) and item["mask"].all()
    # every face of the scene is the target once, and its labels come first
    scene_labels = ds._cache(0)[2]
    targets = [k for k, (scene, _) in enumerate(ds.index) if scene == 0]
    assert len(targets) == scene_labels.shape[0]
    for k in targets:
        assert torch.equal(ds[k]["labels"][0], torch.from_numpy(scene_labels[ds.index[k][1]]))
    short = {k: v[:, :12] if k != "audio" else v[:48] for k, v in item.items()}
    batch = collate([item, short])
    assert batch["faces"].shape == (2, 3, 20, 48, 48) and batch["audio"].shape == (2, 80, 64)
    assert batch["mask"][1, :, 12:].sum() == 0 and batch["mask"][1, :, :12].all()


def test_data_module_options_are_checked():
    with pytest.raises(ValueError, match="--data.source"):
        ASDDataModule(source="youtube")
    with pytest.raises(ValueError, match="--data.root"):
        ASDDataModule(source="talknet")
    with pytest.raises(ValueError, match="--data.scenes"):
        ASDDataModule(scenes=(10, 0, 2))


def test_track_augmentation_is_one_transform_per_track():
    from spanmix.apps.video.asd.features import augment_track

    face = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    track = np.stack([face] * 5)
    out = augment_track(track, np.random.default_rng(3))
    assert out.shape == track.shape and out.dtype == np.uint8
    assert all(np.array_equal(out[0], f) for f in out[1:])  # the same crop/rotation/flip in every frame
    assert not np.array_equal(out, track)
    assert np.array_equal(out, augment_track(track, np.random.default_rng(3)))


def test_audio_noise_is_mixed_at_the_asked_snr():
    from spanmix.apps.video.asd.features import mix_noise

    rng = np.random.default_rng(0)
    audio, noise = rng.normal(0, 0.3, 16000).astype(np.float32), rng.normal(0, 2.0, 7000).astype(np.float32)
    mixed = mix_noise(audio, noise, 6.0)
    added = mixed - audio
    assert 10 * np.log10(np.mean(audio ** 2) / np.mean(added ** 2)) == pytest.approx(6.0, abs=1e-3)
    assert np.array_equal(mix_noise(audio, np.zeros(10, np.float32), 0.0), audio)


def test_training_augmentation_depends_on_epoch_and_index_only():
    ds = CompositeASD("train", scenes=3, frames=12, face_size=32, speakers=2, augment="full")
    a = ds[1]
    again = CompositeASD("train", scenes=3, frames=12, face_size=32, speakers=2, augment="full")[1]
    assert all(torch.equal(a[k], again[k]) for k in a)  # a fresh dataset (another worker, a resume) agrees
    ds.set_epoch(1)
    b = ds[1]
    assert torch.equal(a["labels"], b["labels"]) and not torch.equal(a["faces"], b["faces"])
    plain = CompositeASD("train", scenes=3, frames=12, face_size=32, speakers=2)
    assert any(not torch.equal(ds[k]["audio"], plain[k]["audio"]) for k in range(len(ds)))  # another scene's audio


def test_flip_only_augmentation_and_bad_choice():
    flip = CompositeASD("train", scenes=2, frames=12, face_size=32, speakers=2, augment="flip")
    plain = CompositeASD("train", scenes=2, frames=12, face_size=32, speakers=2)
    for k in range(len(flip)):
        a, b = flip[k], plain[k]
        assert torch.equal(a["audio"], b["audio"])  # no audio mixing
        for got, ref in zip(a["faces"], b["faces"]):  # each track as is or mirrored, nothing else
            assert torch.equal(got, ref) or torch.equal(got, ref.flip(-1))
    with pytest.raises(ValueError, match="--data.augment"):
        ASDDataModule(augment="rotate")
