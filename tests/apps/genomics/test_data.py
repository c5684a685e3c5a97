import pytest
import torch
from spanmix.apps.genomics.data import ClassificationDataModule, PretrainDataModule
from spanmix.apps.genomics.tokenizer import CharTokenizer

TOK = CharTokenizer()


def test_pretrain_windows_are_shifted_and_regions_disjoint():
    dm = PretrainDataModule("ecoli", seq_len=128, batch_size=4, tokens_per_epoch=4096, max_eval_windows=8)
    dm.setup()
    train, val, test = (dm.regions(s)["K-12-MG1655"] for s in ("train", "val", "test"))
    assert train[1] <= val[0] < val[1] <= test[0] < test[1] == len(dm.genome["K-12-MG1655"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["ids"].shape == batch["target"].shape == (4, 128)
    assert torch.equal(batch["ids"][:, 1:], batch["target"][:, :-1])
    genome = dm.genome["K-12-MG1655"]
    window = TOK.decode(torch.cat([batch["ids"][0], batch["target"][0, -1:]]))
    assert genome.find(window) + len(window) <= train[1]  # a real stretch of the training region
    vb = next(iter(dm.val_dataloader()))
    first = TOK.decode(vb["ids"][0])
    assert genome[val[0] : val[0] + 128] == first


def test_stage_switch_changes_train_length():
    dm = PretrainDataModule("ecoli", seq_len=128, batch_size=2, tokens_per_epoch=1024)
    dm.set_stage(32, 8)
    batch = next(iter(dm.train_dataloader()))
    assert batch["ids"].shape == (8, 32)
    assert len(dm.train_dataloader()) == 1024 // 32 // 8


def test_oct4_mafk_split_is_stratified_and_disjoint():
    dm = ClassificationDataModule("oct4_mafk", batch_size=16)
    assert dm.n_classes == 2
    sizes = {k: len(v[0]) for k, v in dm.splits.items()}
    assert sum(sizes.values()) == 3897 + 3900
    for _, labels in dm.splits.values():
        assert abs(labels.mean() - 3900 / 7797) < 0.01
    assert not set(dm.splits["train"][0]) & set(dm.splits["test"][0])
    batch = next(iter(dm.test_dataloader()))
    assert batch["ids"].shape == (16, 200) and batch["label"].shape == (16,)


def test_bad_dataset_name():
    with pytest.raises(ValueError, match="oct4_mafk"):
        ClassificationDataModule("mnist")


def rc_coins(ds, epoch: int, workers: int) -> list[bool]:
    """Which items the training loader reverse-complements in ``epoch`` (unshuffled, so item order is known)."""
    from spanmix.apps.genomics.tokenizer import reverse_complement

    ds.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=workers, collate_fn=lambda items: items)
    got = [seq for batch in loader for seq, _ in batch]
    coins = []
    for i, seq in enumerate(got):
        original = ds.seqs[i]
        assert seq in (original, reverse_complement(original))
        coins.append(seq != original)
    return coins


def test_reverse_complement_coins_depend_on_seed_epoch_and_item_not_on_workers():
    # A generator stored in the Dataset would be copied into each worker: the workers would flip the same
    # coins as each other, and (re-created each epoch) the same coins every epoch.
    dm = ClassificationDataModule("oct4_mafk", batch_size=8, rc_augment=True)
    ds = dm._loader("train", train=True).dataset
    ds.seqs, ds.labels = ds.seqs[:64], ds.labels[:64]
    epoch0, epoch1 = rc_coins(ds, 0, 0), rc_coins(ds, 1, 0)
    assert 16 < sum(epoch0) < 48 and epoch0 != epoch1
    assert rc_coins(ds, 0, 2) == epoch0 and rc_coins(ds, 1, 2) == epoch1
    assert epoch0[:8] != epoch0[8:16]  # consecutive batches (different workers) draw different coins
