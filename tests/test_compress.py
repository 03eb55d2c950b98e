"""vgg_edu.compress (prune, quantize, distill): pruning against an independent construction (the same network
with the removed channels forced to zero), MACs against the conv formula, the distillation loss against a hand
computation, int8 models against float, the GAP head against published counts, refusals of bad input."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from vgg_edu import analysis
from vgg_edu.compression import quantize
from vgg_edu.compression.distill import Distiller, distillation_loss
from vgg_edu.compression.measure import costs, head_table, pruning_sweep
from vgg_edu.compression.prune import channels_to_keep, convs, filter_l1_norms, keep_channels, prune_channels
from vgg_edu.compression.quantize import file_size, latency_ms, quantize_dynamic_head, quantize_static
from vgg_edu.models import VGG, get_config
from vgg_edu.training.config import FitConfig
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit
from vgg_edu.training.recipes import build_model

from conftest import requires_cuda, small_model, tiny_data


def _with_statistics(model, seed=0):
    """Give every BatchNorm non-trivial affine parameters and running statistics, as a trained network has."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            elif isinstance(m, nn.Linear):  # torchvision's normal(0, 0.01) makes outputs too small to compare
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features**0.5)
    return model.eval()


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
    model = _with_statistics(small_model(head=head, batch_norm=batch_norm, width_divisor=8, hidden=16))
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
    model = _with_statistics(small_model(head="fc", hidden=16, width_divisor=8))
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
    model = _with_statistics(small_model())
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


def test_pruned_macs_match_the_layer_table_and_the_conv_formula():
    model = build_model("classroom", width_divisor=8)  # VGG-11 / 8 at 32 px
    pruned = prune_channels(model, 0.5)
    widths = [4, 8, 16, 16, 32, 32, 32, 32]
    sides = [32, 16, 8, 8, 4, 4, 2, 2]
    inputs = [1] + widths[:-1]
    conv_macs = sum(s * s * c_out * c_in * 9 for s, c_out, c_in in zip(sides, widths, inputs))
    table = analysis.layer_table(pruned, (1, 32, 32))
    assert int(table.loc[table["type"].str.startswith("Conv"), "macs"].sum()) == conv_macs
    assert costs(pruned)["macs"] == conv_macs + 32 * 10
    assert costs(model)["macs"] == 2_433_664
    assert costs(pruned)["macs"] == 627_008


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


def test_pruning_sweep_reports_each_fraction(one_thread):
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    sweep, models = pruning_sweep(small_model(), ds, FitConfig(epochs=1, batch_size=32), (0.5,))
    assert sweep["fraction"].tolist() == [0.0, 0.5]
    assert sweep["macs"].iloc[1] == costs(models[0.5])["macs"] < sweep["macs"].iloc[0]
    assert 0 <= sweep["val_acc"].min() and sweep["val_acc"].max() <= 1


# Distillation -------------------------------------------------------------------------------------------------


def _kd_by_hand(s, t, y, temp, alpha):
    """Hinton et al. 2015 in numpy: (1 - a) CE + a T^2 KL(softmax(t/T) || softmax(s/T)), batch mean."""

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    s, t = s.astype(np.float64), t.astype(np.float64)
    ce = -log_softmax(s)[np.arange(len(y)), y].mean()
    log_p, log_q = log_softmax(t / temp), log_softmax(s / temp)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(1).mean()
    return (1 - alpha) * ce + alpha * temp**2 * kl


@pytest.mark.parametrize("temp, alpha", [(4.0, 0.9), (1.0, 0.5), (2.5, 0.0), (10.0, 1.0)])
def test_distillation_loss_matches_the_hand_computation(temp, alpha):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(6, 10, generator=g), 4 * torch.randn(6, 10, generator=g)
    y = torch.randint(0, 10, (6,), generator=g)
    got = distillation_loss(s, t, y, temperature=temp, alpha=alpha)
    assert math.isclose(float(got), _kd_by_hand(s.numpy(), t.numpy(), y.numpy(), temp, alpha), rel_tol=1e-5)


def test_label_smoothing_applies_to_the_hard_term_only():
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    y = torch.randint(0, 10, (6,), generator=g)
    smooth = torch.full((6, 10), 0.1 / 10).scatter_add_(1, y.view(-1, 1), torch.full((6, 1), 0.9))
    ce = float(-(smooth * s.log_softmax(1)).sum(1).mean())
    soft = _kd_by_hand(s.numpy(), t.numpy(), y.numpy(), 2.0, 1.0)
    got = distillation_loss(s, t, y, temperature=2.0, alpha=0.5, label_smoothing=0.1)
    assert math.isclose(float(got), 0.5 * ce + 0.5 * soft, rel_tol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        Distiller(small_model(), label_smoothing=1.0)


def test_the_soft_term_is_zero_when_the_student_copies_the_teacher():
    t = torch.randn(4, 10)
    assert float(distillation_loss(t, t, torch.zeros(4, dtype=torch.long), alpha=1.0)) == pytest.approx(0)


@pytest.mark.parametrize("kw, message", [({"temperature": 0}, "temperature"), ({"alpha": 1.5}, "alpha"),
                                         ({"temperature": "4"}, "temperature"), ({"temperature": -2.0}, "temperature"),
                                         ({"temperature": float("nan")}, "temperature"),
                                         ({"temperature": float("inf")}, "temperature"),
                                         ({"alpha": float("nan")}, "alpha")])  # fmt: skip
def test_bad_distillation_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        distillation_loss(torch.zeros(2, 10), torch.zeros(2, 10), torch.zeros(2, dtype=torch.long), **kw)
    with pytest.raises(ValueError, match=message):
        Distiller(small_model(), **kw)


def test_a_teacher_that_is_not_a_network_is_refused():
    with pytest.raises(TypeError, match="teacher must be a trained network"):
        Distiller("resnet50")


def test_distiller_trains_the_student_and_leaves_the_teacher_alone(one_thread):
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    teacher = _with_statistics(small_model(seed=1, width_divisor=8))
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = small_model().eval()
    distiller = Distiller(teacher, temperature=3.0, alpha=0.7)
    x = student.input_spec(ds.train_images[:8])
    with torch.no_grad():
        expected = distillation_loss(student(x), teacher(x), ds.train_labels[:8], temperature=3.0, alpha=0.7)
        assert torch.allclose(distiller(student(x), ds.train_labels[:8], x), expected)
    fit(student, ds, epochs=1, batch_size=32, loss_fn=distiller, quiet=True)
    assert all(torch.equal(frozen[k], v) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters())


# Quantization -------------------------------------------------------------------------------------------------


def test_fusion_groups_pair_each_conv_with_its_bn_and_relu():
    model = small_model()
    groups = quantize.fusion_groups(model.features)
    assert groups[:2] == [["features.0", "features.1", "features.2"], ["features.4", "features.5", "features.6"]]
    assert len(groups) == 8
    plain = small_model(batch_norm=False)
    assert quantize.fusion_groups(plain.features)[0] == ["features.0", "features.1"]


def test_static_int8_agrees_with_float(one_thread):
    ds = tiny_data(n_train=256, n_test=64)
    model = small_model(width_divisor=8)
    fit(model, ds, epochs=2, batch_size=32, quiet=True)
    model.eval()
    int8 = quantize_static(model, ds.train_images)
    x = model.input_spec(ds.test_images)
    with torch.no_grad():
        ref, got = model(x), int8(x)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert (got - ref).abs().max() < 0.1 * ref.abs().max()
    assert (got.argmax(1) == ref.argmax(1)).float().mean() >= 0.9
    assert sum(isinstance(m, torch.ao.nn.quantized.Conv2d) for m in int8.modules()) == 8
    assert file_size(int8) < 0.4 * file_size(model)
    assert evaluate(int8, ds, "test") == pytest.approx(evaluate(model, ds, "test"), abs=0.1)


def test_dynamic_int8_head_agrees_with_float():
    model = small_model(head="fc", hidden=64).eval()
    q = quantize_dynamic_head(model)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        ref, got = model(x), q(x)
    assert torch.allclose(got, ref, atol=0.05 * ref.abs().max().item())
    assert sum("quantized.dynamic" in type(m).__module__ for m in q.modules()) == 3
    assert isinstance(model.classifier[0], nn.Linear)  # the original is untouched


def test_quantize_static_refuses_what_it_cannot_quantize():
    with pytest.raises(TypeError, match="takes a VGG"):
        quantize_static(nn.Linear(3, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="calibration"):
        quantize_static(small_model(), torch.zeros(0, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="calibration should be a tensor"):
        quantize_static(small_model(), [torch.zeros(28, 28, dtype=torch.uint8)])
    with pytest.raises(ValueError, match=r"float model inputs \(N, C, H, W\)"):
        quantize_static(small_model(), torch.zeros(4, 28, 28))


def test_latency_is_a_positive_time():
    assert latency_ms(small_model(), (1, 32, 32), 2, repeats=2) > 0


# The GAP head ---------------------------------------------------------------------------------------------------


def test_vgg16_heads_against_torchvision_counts():
    heads = head_table("D", num_classes=1000)
    assert heads.loc["fc", "total_params"] == 138_357_544  # torchvision's vgg16
    assert heads.loc["fc", "head_params"] == 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert heads.loc["gap", "head_params"] == 512 * 1000 + 1000
    assert heads.loc["gap", "total_params"] == 138_357_544 - heads.loc["fc", "head_params"] + 513_000


# CUDA (skipped without a GPU) -----------------------------------------------------------------------------------


@requires_cuda
@pytest.mark.cuda
def test_pruning_distillation_and_transfer_run_on_cuda():
    from vgg_edu import transfer

    model = _with_statistics(small_model(width_divisor=8))
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        on_cpu = prune_channels(model, 0.5).eval()(x)
        pruned = prune_channels(model.cuda(), 0.5).eval()
        assert next(pruned.parameters()).is_cuda
        assert torch.allclose(pruned(x.cuda()).cpu(), on_cpu, atol=1e-4)
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    student = small_model().cuda()
    fit(student, ds, epochs=1, batch_size=32, loss_fn=Distiller(model), quiet=True)  # fmt: skip
    int8 = quantize_static(model, ds.train_images)  # quantized models run on the CPU
    assert int8(x).shape == (4, 10) and next(model.parameters()).is_cuda
    assert transfer.prepare(model, transfer.split_classes(ds, range(3)), "from scratch").features[0].weight.is_cuda


# Quantization refuses what would silently go wrong (issue 25) --------------------------------------------------


@pytest.mark.parametrize(
    ("calibration", "kw", "message"),
    [
        ("pixels", dict(max_batches=0), "max_batches must be a positive whole number; got 0 .* quietly loses"),
        ("pixels", dict(batch_size=0), "batch_size must be a positive whole number"),
        ("nan", {}, "calibration inputs hold NaN or infinite values"),
        ("colour", {}, "calibration images do not fit this model: this VGG was built for 1-channel images but got 3"),
        ("small", {}, r"calibration images do not fit this model: input 28x28 px is too small"),
    ],
)
def test_quantize_static_refuses_calibration_that_would_go_wrong(calibration, kw, message):
    model = small_model().eval()
    data = {
        "pixels": torch.zeros(8, 28, 28, dtype=torch.uint8),
        "nan": torch.full((8, 1, 32, 32), float("nan")),
        "colour": torch.zeros(8, 3, 28, 28, dtype=torch.uint8),  # RGB photos for a grey model
        "small": torch.zeros(8, 1, 28, 28),  # float inputs are used as given: not resized
    }[calibration]
    with pytest.raises(ValueError, match=message):
        quantize_static(model, data, **kw)


def test_a_model_on_the_meta_device_is_refused_clearly():
    with torch.device("meta"):
        model = small_model()
    for quantize_it in (lambda m: quantize_static(m, torch.zeros(8, 28, 28, dtype=torch.uint8)), quantize_dynamic_head):
        with pytest.raises(ValueError, match="on the meta device .* model.to_empty"):
            quantize_it(model)


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_the_int8_model_checks_its_inputs_as_the_float_model_does(kind, one_thread):
    model = small_model().eval()
    int8 = quantize_static(model, torch.zeros(8, 28, 28, dtype=torch.uint8)) if kind == "static" else None
    int8 = int8 if int8 is not None else quantize_dynamic_head(small_model(head="fc").eval())
    for bad, message in (
        (torch.zeros(2, 1, 28, 28), r"input 28x28 px is too small: .* --resize 32"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.float64), r"the input is torch.float64: convert the input with x.to"),
        (torch.zeros(2, 3, 32, 32), "built for 1-channel images but got 3 channels"),
        (torch.zeros(1, 32, 32), "Add a batch dimension with x.unsqueeze"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.uint8), "Turn uint8 pixels into inputs first"),
    ):
        with pytest.raises(ValueError, match=message):
            model(bad)
        with pytest.raises(ValueError, match=message):
            int8(bad)
    assert int8(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("kw", [dict(repeats=0), dict(repeats=-1), dict(batch_size=0)])
def test_latency_needs_at_least_one_timed_pass(kw):
    with pytest.raises(ValueError, match=f"{next(iter(kw))} must be a positive whole number"):
        latency_ms(small_model(), (1, 32, 32), **kw)
