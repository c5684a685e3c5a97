"""Load the official HyenaDNA checkpoints (Nguyen et al. 2023; ``HazyResearch/hyena-dna``) into ``HyenaDNA``.

    lm = load_official("hyenadna-tiny-1k-seqlen-hf/model.safetensors")      # or the folder, a .bin, a .ckpt
    lm = load_official(path, filter_shift=0.05)   # reproduce the standalone/HF port's outputs exactly

Accepted files (read locally, never downloaded): a Hugging Face export of ``HyenaDNAForCausalLM`` /
``HyenaDNAModel`` (``model.safetensors`` or ``pytorch_model.bin``, keys ``hyena.backbone.*`` or ``backbone.*``),
the Lightning ``weights.ckpt`` of the training code (``state_dict`` with ``model.backbone.*``), or a state dict
saved from ``standalone_hyenadna.py``; ``torch.load`` runs with ``weights_only=True`` (a checkpoint that pickles
other objects is refused with a message saying how to extract its state dict).

Key mapping (official -> ours), per layer ``i``: ``layers.i.mixer.{in_proj,out_proj}`` -> ``blocks.i.mixer.*``,
``mixer.short_filter`` -> ``mixer.short_conv``, ``mixer.filter_fn.implicit_filter.{0,2,4,6}`` ->
``mixer.filter.linears.{0,1,2,3}``, ``mixer.filter_fn.implicit_filter.{1,3,5}.freq`` (one tensor shared by
the three Sin layers; an export may keep only one of the names, or none: then ``filter_freq``) ->
``mixer.filter.freq``,
``mixer.filter_fn.bias`` -> ``mixer.filter.bias``, ``norm1/norm2`` -> same, ``mlp.fc1/fc2`` -> ``ffn.fc1/fc2``;
``embeddings.word_embeddings`` -> ``embedding`` (its rows are the padded vocabulary, 16 for 12 tokens:
``pad_vocab_multiple`` is set to match), ``ln_f`` -> ``backbone.norm``, ``lm_head`` -> ``lm_head`` (tied when
equal to the embedding or absent). The buffers ``pos_emb.z``/``pos_emb.t`` (the filters' positional
features) and ``modulation.deltas`` (decay rates) are not weights here (computed): they are checked against
ours and a checkpoint whose features were trained is refused. Sizes (``d_model``, ``n_layer``, ``d_inner``,
``l_max``, ``order``, ``filter_order``, ``emb_dim``, short filter taps) are read from the tensors' shapes.
A classification head (``score``, ``head``) is not loaded. Only order 2 is accepted (every published HyenaDNA):
at higher orders the official codes disagree on the filters' channel order (``(o d)`` in the standalone/HF
port, ``(v o)`` in the training code's ``HyenaOperator``), so a file cannot say which it holds.

The tokenizer needs no mapping: ``CharTokenizer`` ids equal the official ``CharacterTokenizer``'s
(specials 0..6, ``A C G T N`` = 7..11).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from spanmix.apps.genomics.models.hyenadna import VOCAB_SIZE, HyenaDNA
from spanmix.apps.harness.errors import SpanmixError

__all__ = ["is_official_state_dict", "load_official", "official_to_spanmix", "read_state_dict"]

_PREFIXES = ("module.", "model.", "hyena.")
_IGNORED = re.compile(r"^(score|head|decoder|classifier)\.")
_FILE_NAMES = ("model.safetensors", "pytorch_model.bin", "weights.ckpt")
_LAYER_RULES = [  # (official, within backbone.layers.i) -> ours, within backbone.blocks.i
    (re.compile(r"mixer\.(in_proj|out_proj)\.(weight|bias)"), r"mixer.\1.\2"),
    (re.compile(r"mixer\.short_filter\.(weight|bias)"), r"mixer.short_conv.\1"),
    (re.compile(r"mixer\.filter_fn\.bias"), "mixer.filter.bias"),
    (re.compile(r"(norm1|norm2)\.(weight|bias)"), r"\1.\2"),
    (re.compile(r"mlp\.(fc1|fc2)\.(weight|bias)"), r"ffn.\1.\2"),
]
_FILTER = re.compile(r"mixer\.filter_fn\.implicit_filter\.(\d+)\.(weight|bias|freq)")
_CHECKED = re.compile(r"mixer\.filter_fn\.(pos_emb\.z|pos_emb\.t|modulation\.deltas)")


def _strip(key: str) -> str:
    while key.startswith(_PREFIXES):
        key = key.split(".", 1)[1]
    return key


def is_official_state_dict(state: dict[str, Any]) -> bool:
    """True when ``state`` has the official naming (a word-embedding table under ``backbone.embeddings``)."""
    return any(_strip(k) == "backbone.embeddings.word_embeddings.weight" for k in state)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a local checkpoint file (or of the first of ``model.safetensors``, ``pytorch_model.bin``,
    ``weights.ckpt`` in a folder)."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in _FILE_NAMES if (path / n).is_file()]
        if not found:
            raise SpanmixError(f"{path}: no checkpoint file in this folder; expected one of {list(_FILE_NAMES)}")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"official HyenaDNA checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise SpanmixError(f"{path}: not readable as a checkpoint with torch.load(weights_only=True) "
                           f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); expected a .safetensors "
                           "file or a torch state dict (.bin/.pt/.ckpt). A Lightning .ckpt that pickles config objects "
                           "(e.g. OmegaConf hyper-parameters) is refused for safety: in an environment you trust, "
                           "save its ckpt['state_dict'] alone with torch.save and pass that file") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a Lightning checkpoint of the training code
    if not isinstance(state, dict):
        raise SpanmixError(f"{path}: holds a {type(state).__name__}, expected a state dict")
    return state


def _sizes(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    def get(key):
        if key not in state:
            raise SpanmixError(f"official HyenaDNA state dict lacks {key!r}: not a HyenaDNA Hyena checkpoint "
                               "(attention layers are not supported)")
        return state[key]

    layers = {int(m.group(1)) for k in state if (m := re.match(r"backbone\.layers\.(\d+)\.", k))}
    if not layers or layers != set(range(max(layers) + 1)):
        raise SpanmixError(f"official HyenaDNA state dict: layers {sorted(layers)} are not 0..n-1")
    emb = get("backbone.embeddings.word_embeddings.weight")
    rows, d_model = emb.shape
    if rows < VOCAB_SIZE:
        raise SpanmixError(f"official HyenaDNA embedding has {rows} rows; the 12-token vocabulary needs >= 12")
    pre = "backbone.layers.0.mixer."
    width = get(pre + "in_proj.weight").shape[0]
    if width // d_model - 1 != 2:
        raise SpanmixError(f"official HyenaDNA checkpoint has a Hyena of order {width // d_model - 1}; only order 2 "
                           "(every published model) is supported: the official codes lay out higher orders differently")
    first = get(pre + "filter_fn.implicit_filter.0.weight")
    n_linear = sum(1 for k in state if re.fullmatch(r"backbone\.layers\.0\.mixer\.filter_fn\.implicit_filter\.\d+\.weight", k)
                   and state[k].dim() == 2)
    if n_linear != 4:
        raise SpanmixError(f"official HyenaDNA filter has {n_linear} linear layers; 4 (num_inner_mlps 2) supported")
    if pre + "filter_fn.pos_emb.z" in state:
        l_max = state[pre + "filter_fn.pos_emb.z"].shape[1]
    else:
        l_max = get(pre + "filter_fn.pos_emb.t").shape[1]
    return {"d_model": d_model, "n_layer": len(layers), "d_inner": get("backbone.layers.0.mlp.fc1.weight").shape[0],
            "l_max": l_max, "order": width // d_model - 1, "filter_order": first.shape[0], "emb_dim": first.shape[1],
            "short_filter": get(pre + "short_filter.weight").shape[-1],
            "pad_vocab_multiple": 8 if rows == 16 else rows}  # 8: the published value (CONFIGS' default)


def official_to_spanmix(state: dict[str, torch.Tensor]) -> tuple[dict[str, Any], dict[str, torch.Tensor],
                                                                 dict[str, torch.Tensor]]:
    """``(HyenaDNA sizes, our state dict, the official buffers to check)`` from an official state dict."""
    state = {_strip(k): v for k, v in state.items()}
    sizes = _sizes(state)
    ours, checked, unknown = {}, {}, []
    for key, value in state.items():
        if _IGNORED.match(key):
            continue
        if key == "backbone.embeddings.word_embeddings.weight":
            ours["embedding.weight"] = value
        elif key.startswith("backbone.ln_f."):
            ours["backbone.norm." + key.removeprefix("backbone.ln_f.")] = value
        elif key == "lm_head.weight":
            ours[key] = value
        elif m := re.fullmatch(r"backbone\.layers\.(\d+)\.(.+)", key):
            i, rest = m.groups()
            block = f"backbone.blocks.{i}."
            if f := _FILTER.fullmatch(rest):
                j, kind = int(f.group(1)), f.group(2)
                if kind == "freq":
                    name = block + "mixer.filter.freq"
                    value = value.reshape(-1)
                    if name in ours and not torch.equal(ours[name], value):
                        raise SpanmixError(f"official HyenaDNA layer {i}: its Sin layers have different "
                                           "frequencies; the official filter shares one")
                    ours[name] = value
                else:
                    ours[block + f"mixer.filter.linears.{j // 2}.{kind}"] = value
            elif c := _CHECKED.fullmatch(rest):
                checked[f"{i}.{c.group(1)}"] = value
            else:
                for rule, target in _LAYER_RULES:
                    if rule.fullmatch(rest):
                        ours[block + rule.sub(target, rest)] = value
                        break
                else:
                    unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise SpanmixError(f"official HyenaDNA state dict has keys this loader does not know: {unknown[:5]}")
    return sizes, ours, checked


def _check_buffers(lm: HyenaDNA, checked: dict[str, torch.Tensor], atol: float = 1e-4) -> None:
    for key, value in checked.items():
        i, name = key.split(".", 1)
        filt = lm.backbone.blocks[int(i)].mixer.filter
        length = value.shape[1]
        if name == "pos_emb.z":
            mine = filt.features(length, torch.float32)
        elif name == "pos_emb.t":
            mine = torch.arange(length, dtype=torch.float32).unsqueeze(-1) / max(filt.max_len - 1, 1)
        else:  # the decay rates δ, as a window at t = 1
            lo, hi = filt.decay_range
            mine = torch.linspace(lo, hi, filt.channels)
        got = value.float().reshape(mine.shape)
        if not torch.allclose(got, mine, atol=atol):
            raise SpanmixError(f"official HyenaDNA layer {i}: {name} differs from the computed one by "
                               f"{(got - mine).abs().max():.2e} (trained positional features or decay rates are "
                               "not supported: they are fixed in every official config)")


def load_official(path_or_state: str | os.PathLike | dict[str, torch.Tensor], **options: Any) -> HyenaDNA:
    """A ``HyenaDNA`` (eval mode) holding an official checkpoint's weights (module docstring).

    ``options`` reach ``HyenaDNA`` (e.g. ``filter_shift=0.05``, ``embed_dropout``); the sizes come from the file.
    """
    state = path_or_state if isinstance(path_or_state, dict) else read_state_dict(path_or_state)
    if not is_official_state_dict(state):
        raise SpanmixError("not an official HyenaDNA state dict: no backbone.embeddings.word_embeddings.weight")
    sizes, ours, checked = official_to_spanmix(state)
    clash = sorted(set(sizes) & set(options))
    if clash:
        raise SpanmixError(f"load_official: {clash} come from the checkpoint's shapes and cannot be overridden")
    head = ours.pop("lm_head.weight", None)
    tied = head is None or torch.equal(head, ours["embedding.weight"])
    lm = HyenaDNA(**sizes, layout="official", tie_embeddings=tied, **options)
    if not tied:
        ours["lm_head.weight"] = head
    missing, unexpected = lm.load_state_dict(ours, strict=False)
    # A filter without any stored frequency keeps ``filter_freq`` (10), as Hugging Face's loader does
    # (``_keys_to_ignore_on_load_missing = ["freq"]``, initialised to ``activation_freq``, 10).
    missing = [k for k in missing if not (tied and k == "lm_head.weight") and not k.endswith("mixer.filter.freq")]
    if missing or unexpected:
        raise SpanmixError(f"official HyenaDNA checkpoint does not fit: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    _check_buffers(lm, checked)
    return lm.eval()
