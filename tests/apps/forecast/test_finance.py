"""The Time2Vec finance system: correlation selection without look-ahead, the data module's layout and
scaling, the TT2VFin model and its ablations, the LSTM baseline's size, the task's metrics against the
random walk, and the CLI end to end on the shipped snapshot."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from spanmix.apps.forecast.finance_data import FinanceDataModule, ticker_features
from spanmix.apps.forecast.finance_select import (
    correlation_matrix,
    format_correlation,
    log_returns,
    plot_correlation,
    select_correlated,
)
from spanmix.apps.forecast.finance_task import FinanceTask
from spanmix.apps.forecast.models import build_forecast_model, count_parameters
from spanmix.datasets.finance import load_snapshot

SHAPE = dict(n_targets=1, seq_len=30, label_len=0, pred_len=1, n_time_features=3)


def synthetic_returns(n=400, seed=0) -> pd.DataFrame:
    """Target T; A tracks T before day 300 and is independent after; B the other way round."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    noise = rng.normal(size=(n, 3))
    a = np.where(np.arange(n) < 300, t + 0.3 * noise[:, 0], noise[:, 0])
    b = np.where(np.arange(n) < 300, noise[:, 1], t + 0.1 * noise[:, 1])
    c = 0.5 * t + noise[:, 2]
    return pd.DataFrame({"T": t, "A": a, "B": b, "C": c}, index=pd.bdate_range("2020-01-01", periods=n))


def test_selection_uses_the_training_window_only():
    returns = synthetic_returns()
    until = returns.index[300]
    before = correlation_matrix(returns, until=until)
    assert select_correlated(before, "T", 2) == ["A", "C"]
    # changing everything after the training window leaves the selection unchanged (no look-ahead)
    later = returns.copy()
    later.iloc[300:] = np.random.default_rng(5).normal(size=later.iloc[300:].shape)
    assert select_correlated(correlation_matrix(later, until=until), "T", 2) == ["A", "C"]
    assert select_correlated(before, "T", 0) == []
    assert select_correlated(before, "T", 1, universe=["B", "C"]) == ["C"]
    with pytest.raises(ValueError, match="k=4 but only 3"):
        select_correlated(before, "T", 4)
    with pytest.raises(ValueError, match="target 'X' is not among"):
        select_correlated(before, "X", 1)
    text = format_correlation(before, "T", ["A", "C"])
    assert "A* " in text and "C* " in text and "B " in text
    assert plot_correlation(before, "T", ["A", "C"]).axes


def test_selection_on_real_returns_matches_pandas():
    frame = load_snapshot("wiki")
    returns = log_returns(frame)
    aapl = frame[frame["ticker"] == "AAPL"].set_index("date")["adj_close"]
    np.testing.assert_allclose(returns["AAPL"].dropna().to_numpy(), np.diff(np.log(aapl.to_numpy())), rtol=1e-12)
    corr = correlation_matrix(returns, until="2009-01-01")
    expected = returns[returns.index < "2009-01-01"][["AAPL", "MSFT"]].dropna().corr().iloc[0, 1]
    assert corr.loc["AAPL", "MSFT"] == pytest.approx(expected)


@pytest.fixture(scope="module")
def dm():
    module = FinanceDataModule("snapshot:wiki", target="AAPL", k=2, verbose=False)
    module.setup()
    return module


def test_data_module_layout_splits_and_scaler(dm):
    assert len(dm.selected) == 2 and "AAPL" not in dm.selected
    assert dm.tickers == [*dm.selected, "AAPL"]
    assert dm.columns[-1] == "AAPL_ret" and dm.n_features == 12 and dm.n_targets == 1
    train_end, _ = dm.split_dates
    assert dm.dates[dm.borders["train"][1] - 1] < train_end <= dm.dates[dm.borders["train"][1]]
    # the selection equals one made on training-window returns only
    corr = correlation_matrix(log_returns(dm.prices), until=train_end)
    assert select_correlated(corr, "AAPL", 2) == dm.selected
    # scaler: fitted on the training rows only
    a, b = dm.borders["train"]
    data = dm._get("data").numpy()
    np.testing.assert_allclose(data[a:b].mean(axis=0), 0, atol=1e-4)
    assert abs(data[b:].mean(axis=0)).max() > 1e-3
    # windows: y is the next day's normalised AAPL return, close the next close, last_close today's
    sample = dm.datasets["test"][10]
    lo = dm.borders["test"][0]
    row = lo + 10 + dm.seq_len
    assert torch.equal(sample["y"][0, 0], dm._get("data")[row, -1])
    r = dm.inverse_transform(sample["y"])[0, 0]
    assert float(torch.log(sample["close"][0] / sample["last_close"])) == pytest.approx(float(r), abs=1e-5)
    closes = load_snapshot("wiki", ["AAPL"]).set_index("date")["adj_close"]
    assert float(sample["close"][0]) == pytest.approx(closes[dm.dates[row]], rel=1e-6)
    assert len(dm.datasets["test"]) == dm.borders["test"][1] - dm.borders["test"][0] - dm.seq_len


def test_single_stock_ablation_sees_the_same_days(dm):
    single = FinanceDataModule("snapshot:wiki", target="AAPL", k=0, verbose=False)
    single.setup()
    assert single.selected == [] and all(c.startswith("AAPL_") for c in single.columns)
    assert single.borders == dm.borders and single.dates.equals(dm.dates)


def test_close_target_and_gafa_snapshot():
    close = FinanceDataModule("snapshot:gafa", target="FB", k=1, target_kind="close", verbose=False)
    close.setup()
    assert close.columns[-1] == "FB_close" and close.target_std > 1
    sample = close.datasets["val"][0]
    assert float(close.inverse_transform(sample["y"])[0, 0]) == pytest.approx(float(sample["close"][0]), rel=1e-4)


def test_ticker_features_definitions():
    rows = load_snapshot("wiki", ["AAPL"]).iloc[:5]
    f = ticker_features(rows, ["ret", "range", "oc", "logvol"])
    adj = rows["adj_close"].to_numpy()
    np.testing.assert_allclose(f["ret"], np.log(adj[1:] / adj[:-1]))
    np.testing.assert_allclose(f["range"], np.log(rows["high"] / rows["low"]).to_numpy()[1:])
    np.testing.assert_allclose(f["oc"], np.log(rows["close"] / rows["open"]).to_numpy()[1:])  # factor cancels
    np.testing.assert_allclose(f["logvol"], np.log1p(rows["volume"].to_numpy()[1:]))


@pytest.mark.parametrize("bad, match", [
    (dict(source="csv:x"), "source must be"), (dict(features=["ret", "rsi"]), "features must be"),
    (dict(target_kind="high"), "target_kind"), (dict(split=(0.8, 0.1, 0.2)), "split must be"),
    (dict(source="yfinance"), "needs start and end"), (dict(k=-1), "k must be"),
])
def test_bad_data_options(bad, match):
    with pytest.raises(ValueError, match=match):
        FinanceDataModule(**bad)


def test_bad_target_and_too_large_k():
    with pytest.raises(ValueError, match="has no ticker 'AMZN'"):
        FinanceDataModule("snapshot:wiki", target="AMZN", verbose=False).setup()
    with pytest.raises(ValueError, match="k=4 but only 3"):
        FinanceDataModule("snapshot:wiki", target="AAPL", k=4, verbose=False).setup()


# ------------------------------------------------------------------------------------------------ model
def test_multi_feature_time2vec_keeps_features_apart():
    torch.manual_seed(0)
    m = build_forecast_model("t2v_transformer", n_features=5, **SHAPE, t2v_k=3).eval()
    x = torch.randn(2, 30, 5, requires_grad=True)
    feats = m.features(x)  # (B, L, C + C·(k+1))
    assert feats.shape == (2, 30, 5 + 5 * 4)
    assert torch.equal(feats[..., :5], x)
    # Time2Vec block of feature 2 depends on input feature 2 only
    feats[..., 5 + 2 * 4 : 5 + 3 * 4].sum().backward()
    grad = x.grad.abs().sum(dim=(0, 1))
    assert grad[2] > 0 and torch.count_nonzero(grad) == 1
    assert m(x).shape == (2, 1, 1)


def test_encodings_and_mixers():
    x = torch.randn(3, 30, 4)
    t2v = build_forecast_model("t2v_transformer", n_features=4, **SHAPE)
    pe = build_forecast_model("t2v_transformer", n_features=4, **SHAPE, encoding="sinusoidal")
    none = build_forecast_model("t2v_transformer", n_features=4, **SHAPE, encoding="none")
    assert count_parameters(pe) == count_parameters(none) < count_parameters(t2v)
    torch.manual_seed(0)
    none.eval()
    pe.load_state_dict(none.state_dict())
    pe.eval()
    assert not torch.allclose(pe(x), none(x))  # the positional encoding changes the output
    # permuting time changes nothing without position information (mean pooling, no mask)
    perm = torch.randperm(30)
    torch.testing.assert_close(none(x[:, perm]), none(x), rtol=1e-4, atol=1e-5)
    local = build_forecast_model("t2v_transformer", n_features=4, **{**SHAPE, "pred_len": 5}, mixer="local*2",
                                 mixer_options={"local": {"window": 8}})
    assert local(x).shape == (3, 5, 1)
    with pytest.raises(ValueError, match="encoding must be one of"):
        build_forecast_model("t2v_transformer", n_features=4, **SHAPE, encoding="rope")


def test_lstm_is_about_the_transformers_size():
    t = count_parameters(build_forecast_model("t2v_transformer", n_features=12, **SHAPE))
    lstm = count_parameters(build_forecast_model("lstm", n_features=12, **SHAPE, hidden=64))
    assert abs(lstm - t) / t < 0.05, (lstm, t)


# ------------------------------------------------------------------------------------------------- task
def _task(dm, kind="return"):
    return FinanceTask("t2v_transformer", {"d_model": 16, "depth": 1}, n_features=dm.n_features,
                       seq_len=dm.seq_len, pred_len=dm.pred_len, n_time_features=dm.n_time_features,
                       target_kind=kind, target_mean=dm.target_mean, target_std=dm.target_std)


def test_a_zero_return_model_scores_exactly_as_the_random_walk(dm):
    task = _task(dm)
    zero = torch.tensor(-dm.target_mean / dm.target_std)  # a zero log return on the normalised scale
    task.forward = lambda *args: zero.expand(args[0].shape[0], 1, 1)
    batch = next(iter(dm.test_dataloader()))
    metrics = task.test_metrics
    task._evaluate(batch, "test", metrics)
    for name in ("mse", "mae", "rmse"):
        assert float(metrics["model"][name].compute()) == pytest.approx(float(metrics["rw"][name].compute()),
                                                                        rel=1e-6)
    assert float(metrics["mape"].compute()) == pytest.approx(float(metrics["rw_mape"].compute()), rel=1e-5)
    r_true = torch.log(batch["close"][:, 0].double() / batch["last_close"].double())
    assert float(metrics["rw_dir"].compute()) == pytest.approx(float((r_true > 0).double().mean()))


def test_returns_and_prices_both_ways(dm):
    task = _task(dm)
    last = torch.tensor([100.0, 50.0])
    pred = (torch.tensor([[0.01], [-0.02]]) - dm.target_mean) / dm.target_std
    r, p = task.returns_and_prices(pred.unsqueeze(-1), last)
    torch.testing.assert_close(p[:, 0], torch.tensor([100 * np.exp(0.01), 50 * np.exp(-0.02)], dtype=torch.float64))
    close_task = FinanceTask("lstm", {"hidden": 8}, n_features=3, seq_len=30, target_kind="close",
                             target_mean=100.0, target_std=10.0)
    r, p = close_task.returns_and_prices(torch.tensor([[[0.5]], [[-1.0]]]), last)
    torch.testing.assert_close(p[:, 0], torch.tensor([105.0, 90.0], dtype=torch.float64))
    torch.testing.assert_close(r[:, 0], torch.log(torch.tensor([1.05, 1.8], dtype=torch.float64)))


def test_the_task_needs_finance_batches(dm):
    task = _task(dm)
    batch = {k: v for k, v in next(iter(dm.val_dataloader())).items() if k != "close"}
    with pytest.raises(ValueError, match="needs 'close'"):
        task.validation_step(batch, 0)


# -------------------------------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_fits_offline_on_the_shipped_snapshot(tmp_path, monkeypatch, capsys):
    from spanmix.apps.cli import main

    monkeypatch.chdir(tmp_path)
    cfg = str(__import__("pathlib").Path(__file__).resolve().parents[3] / "apps/forecast/configs/finance_t2v.yaml")
    common = ["--config", cfg, "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
    assert main(["finance", "fit", *common, "--trainer.max_epochs", "2"]) == 0
    assert "ranking:" in capsys.readouterr().out  # the correlation matrix was printed
    assert (tmp_path / "runs/finance/finance_t2v/checkpoints/last.ckpt").is_file()
    assert (tmp_path / "runs/finance/finance_t2v/correlation.png").stat().st_size > 1000
    from spanmix.apps.forecast.finance_cli import main as finance_main

    cli = finance_main(["test", *common, "--ckpt_path", "best"])
    result = cli.trainer.callback_metrics
    for key in ("test/mse", "test/rw_mse", "test/diracc", "test/mape", "test/rw_mape"):
        assert key in result and np.isfinite(float(result[key]))
    # a trained model stays within a few per cent of the random walk on daily returns (the honest truth)
    assert float(result["test/mse"]) < 1.5 * float(result["test/rw_mse"])
    finance_main(["predict", *common, "--ckpt_path", "best"])
    rows = pd.read_csv(tmp_path / "runs/finance/finance_t2v/predictions/next_days.csv")
    assert list(rows.columns) == ["date", "ticker", "log_return", "close"] and len(rows) == 1
    assert rows["date"][0] == "2013-03-04" and rows["ticker"][0] == "AAPL"  # the trading day after the data
    last = load_snapshot("wiki", ["AAPL"])["adj_close"].iloc[-1]
    assert rows["close"][0] == pytest.approx(last * np.exp(rows["log_return"][0]), rel=1e-4)
