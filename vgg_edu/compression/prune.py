"""Structured channel pruning of a VGG by the L1 norm of its filters (Li et al., "Pruning Filters for Efficient
ConvNets", ICLR 2017).

For every conv layer with weights W (C_out x C_in x k x k), filter j scores ``s_j = sum |W[j, :, :, :]|``; the
``round((1 - fraction) * C_out)`` filters with the largest scores are kept (at least one), the rest are removed.
Removing filter j of a conv removes output channel j, its BatchNorm channel, and input channel j of the next layer
(the next conv, or the columns of the first Linear layer that read that channel). The result is a real, smaller
``VGG`` (fewer weights, fewer MACs, not masks). A conv with c_in inputs and c_out outputs does
``H * W * c_out * c_in * k * k`` MACs, so keeping a fraction q of every layer's channels keeps about q^2 of the MACs.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ..data.inputs import spec_of, with_spec
from ..models import VGG, get_config


def _check(model, fraction) -> float:
    """Refuse what cannot be pruned; return ``fraction`` as a float (a 0-d tensor or numpy number is fine)."""
    if isinstance(fraction, torch.Tensor) and fraction.numel() == 1 and not fraction.dtype == torch.bool:
        fraction = fraction.item()
    if not isinstance(model, VGG):
        raise TypeError(
            f"prune_channels takes a vgg_edu.models.VGG (it rebuilds one with fewer channels); got "
            f"{type(model).__name__}. Build the network with vgg_edu.models.VGG or "
            "vgg_edu.training.recipes.build_model."
        )
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ValueError(
            f"fraction is the share of each conv's filters to remove, a number in [0, 1) such as 0.5; got {fraction!r}"
        )
    return float(fraction)


def convs(model: VGG) -> list[nn.Conv2d]:
    """The conv layers of ``model.features``, in order."""
    return [m for m in model.features if isinstance(m, nn.Conv2d)]


def filter_l1_norms(model: VGG) -> list[torch.Tensor]:
    """One tensor per conv layer: the L1 norm of each of its filters, ``sum |W[j]|`` (Li et al. 2017, Sec. 3.1)."""
    return [conv.weight.detach().abs().sum(dim=(1, 2, 3)).cpu() for conv in convs(model)]


def channels_to_keep(model: VGG, fraction: float) -> list[torch.Tensor]:
    """For each conv, the indices (ascending) of the ``max(1, round((1 - fraction) * C_out))`` filters with the
    largest L1 norms."""
    fraction = _check(model, fraction)
    kept = []
    for norms in filter_l1_norms(model):
        n = max(1, round((1 - fraction) * len(norms)))
        kept.append(norms.argsort(descending=True, stable=True)[:n].sort().values)
    return kept


def _narrow_config(model: VGG, kept: list[torch.Tensor]) -> list:
    """The model's config list with each conv's width replaced by the number of channels it keeps."""
    widths, config = iter(len(k) for k in kept), []
    for v in get_config(model.hparams["config"]):
        if v in ("M", "LRN"):
            config.append(v)
        else:
            config.append((next(widths), v[1]) if isinstance(v, tuple) else next(widths))
    return config


def _copy_conv(new: nn.Conv2d, old: nn.Conv2d, keep_out: torch.Tensor, keep_in: torch.Tensor) -> None:
    new.weight.copy_(old.weight[keep_out][:, keep_in])
    if old.bias is not None:
        new.bias.copy_(old.bias[keep_out])


def _copy_batch_norm(new: nn.BatchNorm2d, old: nn.BatchNorm2d, keep: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new, name).copy_(getattr(old, name)[keep])
    new.num_batches_tracked.copy_(old.num_batches_tracked)


def _copy_head(new: VGG, old: VGG, keep: torch.Tensor) -> None:
    """The first Linear reads ``C x h x w`` features flattened channel by channel: keep the columns of the kept
    channels (h * w of them each, 49 for the FC head's 7 x 7 map, 1 for the GAP head); copy the other layers."""
    first = next(i for i, m in enumerate(old.classifier) if isinstance(m, nn.Linear))
    fc_old, fc_new = old.classifier[first], new.classifier[first]
    per_channel = fc_old.in_features // convs(old)[-1].out_channels
    columns = (keep.view(-1, 1) * per_channel + torch.arange(per_channel)).flatten()
    fc_new.weight.copy_(fc_old.weight[:, columns.to(fc_old.weight.device)])
    fc_new.bias.copy_(fc_old.bias)
    for i, (m_new, m_old) in enumerate(zip(new.classifier, old.classifier)):
        if i != first:
            m_new.load_state_dict(m_old.state_dict())


@torch.no_grad()
def keep_channels(model: VGG, kept: list[torch.Tensor]) -> VGG:
    """A new ``VGG`` with only the channels ``kept[i]`` of conv i (and of its BatchNorm), their weights copied; the
    next layer keeps the matching input channels. ``model`` is not changed."""
    if not isinstance(model, VGG):
        _check(model, 0)
    if len(kept) != len(convs(model)):
        raise ValueError(f"kept needs one index tensor per conv layer ({len(convs(model))}); got {len(kept)}")
    kept = [torch.as_tensor(k, dtype=torch.long).cpu() for k in kept]
    for i, (k, conv) in enumerate(zip(kept, convs(model))):
        if k.dim() != 1 or not len(k) or k.unique().numel() != len(k) or k.min() < 0 or k.max() >= conv.out_channels:
            raise ValueError(
                f"kept[{i}] must list distinct channel indices of conv {i} (0 to {conv.out_channels - 1}), at least "
                f"one; got {k.tolist()}"
            )
    hparams = dict(model.hparams, config=_narrow_config(model, kept), width_divisor=1)
    device = next(model.parameters()).device
    new = VGG(**hparams).to(device)
    keep_in = torch.arange(model.in_channels)
    old_layers, new_layers, conv_index = list(model.features), list(new.features), -1
    for old, fresh in zip(old_layers, new_layers):
        if isinstance(old, nn.Conv2d):
            conv_index += 1
            keep_out = kept[conv_index].to(device)
            _copy_conv(fresh, old, keep_out, keep_in.to(device))
            keep_in = keep_out
        elif isinstance(old, nn.BatchNorm2d):
            _copy_batch_norm(fresh, old, keep_in.to(device))
    _copy_head(new, model, keep_in.cpu())
    return with_spec(new, spec_of(model)).train(model.training)


def prune_channels(model: VGG, fraction: float) -> VGG:
    """Remove ``fraction`` of the filters of every conv of ``model``, those with the smallest L1 norms (Li et al.
    2017), and return the smaller ``VGG`` (weights copied, ready to fine-tune with ``vgg_edu.training.loop.fit``).

    ``fraction=0`` returns an identical copy; ``fraction=0.5`` halves every conv's width (about a quarter of the
    conv MACs remain). ``model`` is not changed.
    """
    return keep_channels(model, channels_to_keep(model, fraction))
