"""Exercises of notebook 05: feature maps.

The page shows a forward hook that copies what it keeps (the answer to "write that hook"), so 05.1 asks for a
forward pre-hook on the in-place ReLU instead. The checks compute their expected values by hand.
"""

from __future__ import annotations

from . import as_count, as_numbers, exercise


def _pool3_box(row: int, col: int, side: int = 32) -> tuple[int, int, int, int]:
    """By hand for VGG-11 (paper, Table 1, A) up to pool3: each layer k, s, p gives r += (k - 1) j,
    start += ((k - 1) / 2 - p) j, j *= s, from r = j = 1 and start = 0.5 (the centre of pixel 0)."""
    rf, jump, start = 1, 1, 0.5
    for kernel, stride, padding in [(3, 1, 1), (2, 2, 0), (3, 1, 1), (2, 2, 0), (3, 1, 1), (3, 1, 1), (2, 2, 0)]:
        rf, start, jump = rf + (kernel - 1) * jump, start + ((kernel - 1) / 2 - padding) * jump, jump * stride
    top, left = (round(start + i * jump - rf / 2) for i in (row, col))
    return max(top, 0), max(left, 0), min(top + rf, side), min(left + rf, side)


def _required_arguments(fn) -> int | None:
    """How many positional arguments ``fn`` needs (None when Python cannot tell)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in params)


@exercise(
    "05.1",
    "A forward *pre*-hook runs just before a module's forward and is called as pre_hook(module, inputs), inputs "
    "being the tuple of tensors the module receives. Write make_pre_hook(store): it returns a pre-hook that, "
    "registered on an in-place ReLU (relu.register_forward_pre_hook(...)), keeps in store['in'] what the ReLU "
    "receives, negative values included. Pass make_pre_hook.",
    takes_code=True,
    hint="The ReLU overwrites the very tensor it receives, right after your pre-hook returns: keep a copy of "
    "the first input, not a reference to it (section 1 shows the same pitfall for forward hooks).",
    solution="""def make_pre_hook(store):
    def pre_hook(module, inputs):
        store["in"] = inputs[0].detach().clone()
    return pre_hook
answer = make_pre_hook""",
)
def _check_05_1(make_pre_hook):
    import torch
    from torch import nn

    if not callable(make_pre_hook):
        return "answer should be your make_pre_hook function itself (no brackets)."
    if _required_arguments(make_pre_hook) == 2:
        return "that takes (module, inputs), like the pre-hook itself: pass make_pre_hook, which takes store."
    if not callable(make_pre_hook({})):
        return "make_pre_hook(store) should return the pre-hook (a function), ready to register; pass make_pre_hook."
    torch.manual_seed(0)
    conv, relu, store = nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), {}
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        expected = conv(x)
        handle = relu.register_forward_pre_hook(make_pre_hook(store))
        try:
            nn.Sequential(conv, relu)(x)
        finally:
            handle.remove()
    kept = store.get("in")
    if type(kept).__module__ == "numpy":  # a copy made with numpy is a copy too
        kept = torch.as_tensor(kept)
    if kept is None:
        return "after a forward pass store['in'] is still empty: the pre-hook should fill it."
    if not isinstance(kept, torch.Tensor):
        why = ": inputs is a tuple of tensors." if isinstance(kept, (tuple, list)) else "."
        return f"store['in'] should be a tensor, not a {type(kept).__name__}{why}"
    if kept.shape == expected.shape and torch.allclose(kept, expected.relu()) and (expected < 0).any():
        return "store['in'] holds no negative values: the in-place ReLU overwrote the tensor you kept."
    return (kept.shape == expected.shape and torch.allclose(kept, expected)) or "store['in'] is not the ReLU's input."


@exercise(
    "05.2",
    "VGG-11 on 32 x 32 inputs: which input pixels does unit (row 1, col 2) of pool3 see? Answer "
    "(top, left, bottom, right) clipped to the image (bottom and right exclusive), from the rf, jump and start "
    "columns of analysis.layer_table, in its row named pool3 (BN and the width change no receptive field).",
    hint="Section 4 says where a unit's receptive field lies and how big it is: do it once for the row (top and "
    "bottom), once for the column (left and right), then clip to the image.",
    solution="""from vgg_edu import analysis
from vgg_edu.training import recipes
t = analysis.layer_table(recipes.build_model("classroom"), (1, 32, 32))      # the classroom VGG-11
rf, jump, start = t.set_index("name").loc["pool3", ["rf", "jump", "start"]]
top, left = int(start + 1 * jump - rf / 2), int(start + 2 * jump - rf / 2)
answer = (max(top, 0), max(left, 0), min(top + int(rf), 32), min(left + int(rf), 32))""",
)
def _check_05_2(answer):
    box = tuple(as_count(v) for v in as_numbers(answer))
    if len(box) != 4:
        return f"give four numbers, (top, left, bottom, right); got {len(box)}."
    expected = _pool3_box(1, 2)
    if box == expected:
        return True
    if min(box) < 0 or max(box) > 32:
        return "clip the box to the image: no coordinate below 0 or above 32."
    if box == _pool3_box(2, 1):
        return "row is the vertical position: top comes from the row, left from the column."
    if box == (expected[0], expected[1], expected[2] - 1, expected[3] - 1):
        return "bottom and right are exclusive: the first row and column past the box."
    return "compute the centre start + i * jump of the row and of the column, then the box of side rf around it."


@exercise(
    "05.3",
    "Grad-CAM by hand: write cam(A, G) that takes one image's activations A and the gradients G of the class "
    "score with respect to them, both (K, h, w), and returns the (h, w) Grad-CAM map, not normalised. Pass the "
    "function.",
    takes_code=True,
    called_apart=True,
    hint="Section 6 gives the formula. alpha has one value per channel, shape (K,): give it two trailing axes of "
    "size 1 to weight A's maps with it.",
    solution="""def cam(A, G):
    alpha = G.mean(dim=(1, 2))                              # one weight per channel
    return torch.relu((alpha[:, None, None] * A).sum(0))
answer = cam""",
)
def _check_05_3(cam):
    import torch

    if not callable(cam):
        return "answer should be your cam function itself (no brackets)."
    g = torch.Generator().manual_seed(5)
    A, G = torch.randn(6, 4, 5, generator=g), torch.randn(6, 4, 5, generator=g)
    got = torch.as_tensor(cam(A.clone(), G.clone()))
    expected = torch.relu((G.mean((1, 2))[:, None, None] * A).sum(0))  # after cam returns: no frame it reads holds it
    if got.shape != expected.shape:
        return f"the map should have shape (h, w), {tuple(expected.shape)} here; got {tuple(got.shape)}."
    if (got < 0).any():
        return "the map has negative values: Grad-CAM keeps only the positive evidence (ReLU)"
    if torch.allclose(got.float(), expected, atol=1e-5):
        return True
    scale = float(got.float().max() / expected.max())
    if torch.allclose(got.float(), scale * expected, atol=1e-5 * max(scale, 1.0)):
        return (
            "your map is the right map times a constant: alpha_k averages over the h x w positions, the map sums "
            "over the K channels, and Grad-CAM's map is not normalised here."
        )
    return "the values differ from ReLU(sum_k alpha_k A_k)"


@exercise(
    "05.4",
    "Occlusion with an 8 x 8 window and stride 4 on a 32 x 32 image: how many occluded copies of each image does "
    "the network have to classify?",
    hint="Along one side the window starts at 0, 4, 8, ... as long as all of it fits inside the image: count those "
    "starts, then do the same down the image.",
    solution="answer = ((32 - 8) // 4 + 1) ** 2   # 7 x 7 = 49",
)
def _check_05_4(answer):
    n, per_side = as_count(answer), (32 - 8) // 4 + 1
    if n == (32 // 4) ** 2:
        return "that counts windows that would stick out of the image; they must fit inside it."
    if n == per_side:
        return "that is one side; the window also slides down."
    return n == per_side**2 or "count the window positions along one side, then along the other."
