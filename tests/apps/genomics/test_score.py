"""Log-likelihood, variant-effect and embedding API and commands (spanmix.apps.genomics.score)."""
import numpy as np
import pytest
import torch
from spanmix.apps.genomics.models import HyenaDNA
from spanmix.apps.genomics.score import embed, log_likelihood, variant_effect
from spanmix.apps.genomics.tokenizer import CharTokenizer
from spanmix.apps.harness.errors import SpanmixError

TOK = CharTokenizer()
SEQ = "ACGTTGCAAGCTTAGCCGATACGGATCCATGA"


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return HyenaDNA(d_model=16, n_layer=2, d_inner=32, l_max=64).eval()


def by_hand(lm, seq):
    ids = torch.tensor([TOK.encode(seq)])
    with torch.no_grad():
        logp = lm(ids)[0].log_softmax(-1)
    return torch.stack([logp[t - 1, ids[0, t]] for t in range(1, len(seq))])


def test_log_likelihood_is_the_chain_rule_and_ignores_batch_padding(lm):
    short = SEQ[:9]
    scores = log_likelihood(lm, [SEQ, short], batch_size=2)  # short is left-padded in the batch
    assert [s.shape[0] for s in scores] == [len(SEQ) - 1, 8]
    torch.testing.assert_close(scores[0], by_hand(lm, SEQ), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scores[1], by_hand(lm, short), atol=1e-5, rtol=1e-5)
    assert (scores[0] < 0).all()


def test_variant_effect_is_the_log_likelihood_ratio(lm):
    v = variant_effect(lm, SEQ, pos=10, alt="g")
    alt_seq = SEQ[:10] + "G" + SEQ[11:]
    diff = by_hand(lm, alt_seq) - by_hand(lm, SEQ)
    assert (v.ref, v.alt) == (SEQ[10], "G")
    torch.testing.assert_close(v.per_position, diff, atol=1e-5, rtol=1e-5)
    assert v.per_position[:9].abs().max() < 1e-5  # causal: positions before the variant do not change
    assert v.llr == pytest.approx(float(diff.sum()), abs=1e-4)
    assert v.allele_llr == pytest.approx(float(diff[9]), abs=1e-5)
    assert variant_effect(lm, SEQ, 0, "T").allele_llr is None
    for args, match in [((SEQ, 99, "A"), "outside the sequence"), ((SEQ, 10, SEQ[10]), "equals the reference"),
                        ((SEQ, 10, "AG"), "only SNVs"), ((SEQ, 10, "X"), "invalid character")]:
        with pytest.raises((SpanmixError, ValueError), match=match):
            variant_effect(lm, *args)


def test_embeddings_pool_the_hidden_states(lm):
    e = embed(lm, [SEQ, SEQ[:7]], batch_size=2)
    with torch.no_grad():
        h = lm.hidden(torch.tensor([TOK.encode(SEQ[:7])]))[0]
    assert e.shape == (2, 16)
    torch.testing.assert_close(e[1], h.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(embed(lm, [SEQ[:7]], pooling="last")[0], h[-1], atol=1e-5, rtol=1e-5)
    with pytest.raises(SpanmixError, match="pooling must be"):
        embed(lm, [SEQ], pooling="max")
    with pytest.raises(SpanmixError, match="list of strings"):
        embed(lm, SEQ)


def test_embed_and_score_commands(lm, tmp_path, capsys):
    from spanmix.apps.genomics.cli import main
    from spanmix.apps.harness.export import save_pretrained

    weights = save_pretrained(lm, tmp_path / "lm", lm.config)
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">one\n{SEQ}\n>two desc\n{SEQ[:12]}\n")
    main(["embed", "--weights", str(weights), "--fasta", str(fasta), "--out", str(tmp_path / "e.npz")])
    assert "wrote 2 x 16 embeddings" in capsys.readouterr().out
    saved = np.load(tmp_path / "e.npz")
    assert list(saved["names"]) == ["one", "two"]
    np.testing.assert_allclose(saved["embeddings"], embed(lm, [SEQ, SEQ[:12]]).numpy(), atol=1e-5)
    main(["score", "--weights", str(weights), "--fasta", str(fasta)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t")[:3] == ["name", "length", "log_likelihood"]
    total = float(lines[1].split("\t")[2])
    assert total == pytest.approx(float(log_likelihood(lm, [SEQ])[0].sum()), abs=1e-3)
    main(["score", "--weights", str(weights), "--sequence", SEQ, "--variant", "11:G"])  # 1-based, as in VCF
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split("\t")[:4] == ["pos", "ref", "alt", "llr"]
    assert float(out[1].split("\t")[3]) == pytest.approx(variant_effect(lm, SEQ, 10, "G").llr, abs=1e-3)
    with pytest.raises(SpanmixError, match="one of --fasta or --sequence"):
        main(["score", "--weights", str(weights)])


def test_bad_variant_on_the_command_line_is_one_line_exit_2(lm, tmp_path):
    import subprocess
    import sys

    from spanmix.apps.harness.export import save_pretrained

    weights = save_pretrained(lm, tmp_path / "lm", lm.config)
    r = subprocess.run([sys.executable, "-m", "spanmix.apps.cli", "genomics", "score", "--weights", str(weights),
                        "--sequence", SEQ, "--variant", "3:X"], capture_output=True, text=True,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "spanmix genomics score: error: alt: invalid character 'X' at position 0 (0-based); expected only A, C, "
        "G, T or N (lowercase soft-masked bases are accepted)"]
