"""The one rule that decides which parameters get weight decay, used by every app's task.

    from spanmix.apps.harness.optim import param_groups

    def configure_optimizers(self):
        return torch.optim.AdamW(param_groups(self.net, self.hparams.weight_decay), lr=self.hparams.lr)

A parameter is **not** decayed when any of these holds:

- it has fewer than two dimensions (biases, norm scales, Mamba's ``D``, Hyena's filter ``freq``, ...);
- its own name ends in ``bias`` (``dt_proj.bias``, a 2-D ``rel_bias`` table, ...);
- it belongs directly to a normalisation layer (LayerNorm, RMSNorm, BatchNorm, GroupNorm, InstanceNorm,
  or any module class whose name ends in ``Norm``/``NormNd``);
- it carries ``_no_weight_decay = True``, the flag of the Mamba and S4 reference code. The backbone sets it
  on Mamba's ``A_log``/``D``, S4D's ``log_dt``/``log_A_real``/``A_imag`` and on every parameter of the Hyena
  implicit filter (``HyenaFilter``), which the HyenaDNA code trains with ``wd: 0.0``
  (``hyena-dna/configs/experiment/hg38/hg38_hyena.yaml``, applied through each filter parameter's ``_optim``).

Everything else (weight matrices, convolution kernels, embeddings, S4D's ``C``) is decayed. The flag is an
attribute of the parameter object, so it survives ``.to()``, ``load_state_dict`` and pickling but not
``copy.deepcopy`` (torch's ``Parameter.__deepcopy__`` drops attributes): build the model to be trained, do
not deep-copy it.

Frozen parameters (``requires_grad=False``, e.g. a fine-tuning task's frozen backbone) are in no group.

Layer-wise learning-rate decay (``layer_decay`` < 1; Clark et al. 2020, ELECTRA, App. A; BEiT's
``param_groups_lrd``): with ``layer_id(name)`` in 0..``num_layers`` (0 = embeddings, ``num_layers`` = the
head), a parameter's learning rate is ``lr · layer_decay ** (num_layers - layer_id)``; the groups are split by
(decay, layer) and carry their own ``lr`` (a ``LambdaLR`` schedule scales each group's own initial rate).

Departure from HyenaDNA's training code: it decays biases and norm scales too (its ``add_optimizer_hooks``,
which would exclude them, is enabled by no shipped config), and excludes only the ``_optim``-marked filter
parameters; we keep the common rule above for every app. timm's ``param_groups_weight_decay`` and
minGPT's ``configure_optimizers`` make the same bias/norm/1-D choice.
"""
from __future__ import annotations

import re

from torch import nn

from collections.abc import Callable

__all__ = ["decay_split", "param_groups"]

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.RMSNorm, nn.modules.batchnorm._NormBase)
_NORM_NAME = re.compile(r"Norm(\d+d)?$")


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_TYPES) or bool(_NORM_NAME.search(type(module).__name__))


def _classify(module: nn.Module):
    """``(name, parameter, decayed)`` for each trainable parameter, shared ones once under their first name."""
    seen: set[int] = set()
    for owner_name, owner in module.named_modules():
        for local, p in owner.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            no_decay = (p.ndim < 2 or local.endswith("bias") or _is_norm(owner)
                        or getattr(p, "_no_weight_decay", False))
            yield (f"{owner_name}.{local}" if owner_name else local), p, not no_decay


def decay_split(module: nn.Module) -> tuple[list[str], list[str]]:
    """``(decayed, not_decayed)``: the names of ``module``'s trainable parameters under the rule above.

    Shared (tied) parameters appear once, under their first name; frozen parameters are left out.
    """
    decayed, kept = [], []
    for name, _, decay in _classify(module):
        (decayed if decay else kept).append(name)
    return decayed, kept


def param_groups(module: nn.Module, weight_decay: float, *, lr: float | None = None, layer_decay: float = 1.0,
                 layer_id: Callable[[str], int] | None = None, num_layers: int | None = None) -> list[dict]:
    """Optimiser parameter groups of ``module``: ``weight_decay`` for the decayed parameters, 0 for the rest.

    Empty groups are left out, so a module with no matrices gives one group. Pass the result to any
    ``torch.optim`` optimiser; the groups' ``weight_decay`` overrides the optimiser's own argument.
    With ``layer_decay`` < 1 (module docstring) ``lr``, ``layer_id`` (parameter name -> 0..num_layers) and
    ``num_layers`` are needed, and each group gets its ``lr``.
    """
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if isinstance(layer_decay, bool) or not isinstance(layer_decay, (int, float)) or not 0 < layer_decay <= 1:
        raise ValueError(f"layer_decay must be a number in (0, 1], got {layer_decay!r}")
    if layer_decay == 1:
        decayed, kept = [], []
        for _, p, decay in _classify(module):
            (decayed if decay else kept).append(p)
        groups = [{"params": decayed, "weight_decay": float(weight_decay)}, {"params": kept, "weight_decay": 0.0}]
        return [g for g in groups if g["params"]]
    if lr is None or layer_id is None or num_layers is None:
        raise ValueError("layer_decay < 1 needs lr, layer_id and num_layers")
    groups: dict[tuple[int, bool], dict] = {}
    for name, p, decay in _classify(module):
        layer = layer_id(name)
        if not 0 <= layer <= num_layers:
            raise ValueError(f"layer_id({name!r}) = {layer} is outside 0..{num_layers}")
        group = groups.setdefault((layer, decay), {
            "params": [], "weight_decay": float(weight_decay) if decay else 0.0,
            "lr": lr * layer_decay ** (num_layers - layer), "layer": layer})
        group["params"].append(p)
    return [groups[k] for k in sorted(groups)]
