"""Structured L1-norm pruning against two independent constructions (the same network with the removed channels forced
to zero; a narrower VGG filled by hand), the kept widths, refusals of bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from vgg_edu.compression.prune import channels_to_keep, convs, filter_l1_norms, keep_channels, prune_channels
from vgg_edu.models import VGG, get_config
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data, with_statistics


@torch.no_grad()
def _masked(model, kept):
    """The independent construction: the *same* network with every removed channel forced to zero (its BatchNorm's
    scale and shift set to 0, or, without BN, its filter and bias), so that the next layer receives nothing from it.
    Removing the channels must compute exactly this."""
    masked = VGG(**model.hparams)
    masked.load_state_dict(model.state_dict())
    layers = list(masked.features)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    for i, keep in zip(convs, kept):
        drop = torch.ones(layers[i].out_channels, dtype=torch.bool)
        drop[keep] = False
        target = layers[i + 1] if isinstance(layers[i + 1], nn.BatchNorm2d) else layers[i]
        target.weight[drop] = 0
        target.bias[drop] = 0
    return masked.eval()


@pytest.mark.parametrize("head", ["gap", "fc"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_pruning_computes_what_the_masked_network_computes(head, batch_norm, one_thread):
    model = with_statistics(small_model(head=head, batch_norm=batch_norm, width_divisor=8, hidden=16))
    kept = channels_to_keep(model, 0.5)
    pruned = prune_channels(model, 0.5).eval()
    x = torch.randn(5, 1, 32, 32)
    with torch.no_grad():
        out = pruned(x)
        scale = out.abs().max()
        assert scale > 0
        assert torch.allclose(out, _masked(model, kept)(x), rtol=1e-4, atol=1e-5 * scale)
        assert (out - model(x)).abs().max() > 1e-2 * scale  # pruning changed something


def test_pruning_equals_a_hand_built_narrower_vgg_given_the_same_channels(one_thread):
    """A second construction: a VGG built by hand with the kept widths, filled key by key from the original's
    state_dict (rows of the kept filters, columns of the kept inputs, the kept BN channels, the head's columns)."""
    model = with_statistics(small_model(head="fc", hidden=16, width_divisor=8))
    kept = channels_to_keep(model, 0.4)
    widths = [len(k) for k in kept]
    config = _widths_with_pools(model, widths)
    narrow = VGG(**dict(model.hparams, config=config, width_divisor=1)).eval()
    state, old = narrow.state_dict(), model.state_dict()
    conv_keys = [k[: -len(".weight")] for k in old if k.endswith(".weight") and old[k].dim() == 4]
    previous = torch.arange(1)
    for key, keep in zip(conv_keys, kept):
        bn = f"features.{int(key.split('.')[1]) + 1}"
        state[f"{key}.weight"] = old[f"{key}.weight"][keep][:, previous]
        state[f"{key}.bias"] = old[f"{key}.bias"][keep]
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{bn}.{name}"] = old[f"{bn}.{name}"][keep]
        previous = keep
    columns = torch.cat([torch.arange(c * 49, (c + 1) * 49) for c in previous.tolist()])
    state |= {k: v for k, v in old.items() if k.startswith("classifier.")}
    state["classifier.0.weight"] = old["classifier.0.weight"][:, columns]
    narrow.load_state_dict(state)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(prune_channels(model, 0.4).eval()(x), narrow(x), rtol=1e-4, atol=1e-6)


def _widths_with_pools(model, widths):
    """The model's config with each conv's width replaced by ``widths`` (pools kept)."""
    it = iter(widths)
    return [v if v == "M" else next(it) for v in get_config(model.hparams["config"])]


def test_pruned_network_is_a_smaller_vgg_with_the_kept_widths():
    model = small_model(width_divisor=8)
    pruned = prune_channels(model, 0.5)
    assert isinstance(pruned, VGG)
    assert [m.out_channels for m in convs(pruned)] == [4, 8, 16, 16, 32, 32, 32, 32]
    assert [m.num_features for m in pruned.features if isinstance(m, nn.BatchNorm2d)] == [4, 8, 16, 16, 32, 32, 32, 32]
    assert pruned.classifier[-1].in_features == 32
    rebuilt = VGG(**pruned.hparams)  # a checkpoint can rebuild it
    rebuilt.load_state_dict(pruned.state_dict())
    assert pruned.input_spec == model.input_spec


def test_fraction_zero_is_an_exact_copy_and_the_model_is_untouched(one_thread):
    model = with_statistics(small_model())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    same = prune_channels(model, 0.0).eval()
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(same(x), model(x))
    prune_channels(model, 0.75)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_filters_with_the_smallest_l1_norms_go():
    model = small_model()
    first = convs(model)[0]  # 4 filters at width divisor 16
    with torch.no_grad():
        for j, scale in enumerate([3.0, 0.1, 2.0, 0.2]):
            first.weight[j] = scale / first.weight[j].numel()  # filter j has L1 norm `scale`
    assert torch.allclose(filter_l1_norms(model)[0], torch.tensor([3.0, 0.1, 2.0, 0.2]))
    assert channels_to_keep(model, 0.5)[0].tolist() == [0, 2]
    assert channels_to_keep(model, 0.75)[0].tolist() == [0]
    assert all(len(k) >= 1 for k in channels_to_keep(model, 0.99))


def test_a_pruned_network_fine_tunes_through_fit(one_thread):
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    pruned = prune_channels(small_model(), 0.5)
    before = [p.detach().clone() for p in pruned.parameters()]
    history = fit(pruned, ds, epochs=1, batch_size=32, quiet=True)
    assert history.final["step"] == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, pruned.parameters()))


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, "0.5", True, float("nan")])
def test_bad_fractions_are_refused(fraction):
    with pytest.raises(ValueError, match="fraction is the share"):
        prune_channels(small_model(), fraction)


def test_a_fraction_may_be_a_numpy_number_or_a_0d_tensor():
    model = small_model()
    widths = [m.out_channels for m in convs(prune_channels(model, 0.5))]
    for form in (np.float64(0.5), np.float32(0.5), torch.tensor(0.5)):
        assert [m.out_channels for m in convs(prune_channels(model, form))] == widths
    with pytest.raises(ValueError, match="fraction is the share"):
        prune_channels(model, torch.tensor([0.5, 0.5]))


def test_a_model_that_is_not_a_vgg_is_refused():
    with pytest.raises(TypeError, match="vgg_edu.models.VGG"):
        prune_channels(nn.Sequential(nn.Conv2d(1, 4, 3)), 0.5)


@pytest.mark.parametrize("bad", [[], [0, 0], [99], [-1]])
def test_keep_channels_refuses_impossible_channel_lists(bad):
    model = small_model()
    kept = channels_to_keep(model, 0.5)
    kept[2] = bad
    with pytest.raises(ValueError, match=r"kept\[2\] must list distinct channel indices"):
        keep_channels(model, kept)
    with pytest.raises(ValueError, match="one index tensor per conv"):
        keep_channels(model, kept[:3])


@requires_cuda
@pytest.mark.cuda
def test_pruning_runs_on_cuda_like_on_the_cpu():
    model = with_statistics(small_model(width_divisor=8))
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        on_cpu = prune_channels(model, 0.5).eval()(x)
        pruned = prune_channels(model.cuda(), 0.5).eval()
        assert next(pruned.parameters()).is_cuda
        assert torch.allclose(pruned(x.cuda()).cpu(), on_cpu, atol=1e-4)
