"""Code answers judged apart: what crosses, as data, from the sandbox that holds a student's code to the grader.

For every code answer but the functions of tensors that ``serve.Remote`` calls (02.1-02.5 and 02.7: functions that
build blocks, blocks, classes with a forward; 05.1: a hook factory; 08.1: a head; 09.2: a function of a model), the
check runs in the grader's process, with the teacher's package, unchanged, on a *stand-in* built here from data;
the student's object stays in its sandbox (``serve``), which answers each request (``serve_request``) with tensors,
numbers, text, lists and dicts only, read with ``torch.load(..., weights_only=True)``:

- a module made of torch.nn layers crosses as structure and weights: each submodule's class (one of ``LAYERS``,
  torch.nn's own, a lazy one once its first input has set its size), its constructor arguments read from the
  attributes its forward reads, its state_dict, and the module's own outputs on an input the grader drew at random.
  The grader rebuilds it from torch's classes and refuses it unless the rebuilt module gives the shipped outputs (a
  forward replaced in the sandbox is caught); the check then runs on the rebuilt module, whose code is torch's;
- a function that builds modules (02.1, 02.2) is called in the sandbox with the check's arguments, and what it
  returns crosses as above;
- a module with a forward of its own (02.5, 02.7, or a block written as a class): its children cross as above (a
  child of the student's own class likewise, level by level), and each call of its forward runs in the sandbox on
  the check's input, only the output tensor coming back. The
  stand-in also runs its rebuilt ``features`` and ``classifier`` on that input, as a VGG forward does, so that a
  hook of the check on them sees what they give (02.7's check compares the output with the classifier's scores);
- 05.1: each call of the pre-hook sends the tensor the check's in-place ReLU receives; the sandbox registers the
  student's pre-hook on an in-place ReLU of its own, runs it on that tensor, and what ``store['in']`` then holds
  crosses back. 09.2: ``param_groups`` runs on the package's model in the sandbox; what crosses is each group's
  learning rate and its parameters' names, which the stand-in turns back into the grader's model's parameters.

So the student's code never runs in the grader's process, and the check's code, its expected values and its
libraries are beyond its reach. The checks test behaviour, and every behaviour they test crosses as data that the
grader compares with torch's own layers or recomputes: forging that data means producing that behaviour. Two
facts about how an answer is written cannot be checked that way (``seen_apart``): its source (from the note the
kernel wrote), which tells the buggy snippet handed in unchanged (lying about it earns nothing: the snippet's bug
shows in its behaviour), and, for 02.1, whether the function calls the package's own block builder, read in the
sandbox (lying about it passes 02.1 with the package's block, as copying that block's source would). A rebuilt
module holds at most ``MAX_PARAMETERS`` values (sized on PyTorch's meta device before any memory is taken), so that
a forged layer size cannot exhaust the grader's memory.
"""

from __future__ import annotations

import inspect
import os
from collections import OrderedDict

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin

from ..exercises import AnswerError

_CONV = ("kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode")
_NORM = ("eps", "momentum", "affine", "track_running_stats")
LAYERS = {
    "Sequential": (),
    "Conv2d": ("in_channels", "out_channels", *_CONV),
    "LazyConv2d": ("out_channels", *_CONV),
    "Linear": ("in_features", "out_features", "bias"),
    "LazyLinear": ("out_features", "bias"),
    "BatchNorm1d": ("num_features", *_NORM),
    "BatchNorm2d": ("num_features", *_NORM),
    "LazyBatchNorm2d": _NORM,
    "LocalResponseNorm": ("size", "alpha", "beta", "k"),
    "ReLU": ("inplace",),
    "LeakyReLU": ("negative_slope", "inplace"),
    "Sigmoid": (),
    "Tanh": (),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size", "return_indices"),
    "Flatten": ("start_dim", "end_dim"),
    "Dropout": ("p", "inplace"),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "Identity": (),
}
"""The torch.nn classes a module may be made of, each with the constructor arguments that say all its forward
does (read back from the attributes of the same names; ``bias``: whether it has one)."""

INSTANTIATED = {"02.3", "02.4", "02.5", "02.7"}
"""The exercises whose check makes an instance of a class answer (``lesson02._as_module``)."""
_BUILT_BY_A_FUNCTION = {"02.1": 8, "02.2": 16}  # the side of the probe for what the function builds
_MODULE_INPUTS = {"02.3": (2, 3, 16, 16), "02.4": (2, 512, 4, 4), "02.5": (2, 3, 32, 32), "02.7": (2, 1, 28, 28)}
_MODULE_INPUTS["08.1"] = (2, 512, 7, 7)
MAX_PARAMETERS = 50_000_000
"""The most values (parameters and buffers) the grader rebuilds for one module: 02.4's block holds 7 million."""
_MAX_NESTING = 8  # modules of the student's own classes inside each other
KINDS = {**dict.fromkeys([*_BUILT_BY_A_FUNCTION, *_MODULE_INPUTS], "module"), "05.1": "hook", "09.2": "groups"}
"""Every code answer judged here, by exercise (the other code answers are ``Exercise.called_apart``)."""

_RAISED_AS = {e.__name__: e for e in (RuntimeError, ValueError, TypeError, IndexError, AttributeError, AssertionError)}
_RAISED_AS.update({e.__name__: e for e in (ZeroDivisionError, NotImplementedError, AnswerError)})


class Refused(AnswerError):
    """A module the grader will not judge: the check prints the message as the reason."""


class _NotLayers(Exception):
    pass


# ------------------------------------------------------------------ in the sandbox, beside the student's object


def _layers(module: nn.Module, depth: int = 0) -> dict:
    """``module`` as data: its class, constructor arguments and children, if it is made of ``LAYERS`` only."""
    name = type(module).__name__
    if name not in LAYERS or type(module) is not getattr(nn, name, None) or depth > 64:
        raise _NotLayers(name)
    args = {key: getattr(module, key) is not None if key == "bias" else getattr(module, key) for key in LAYERS[name]}
    children = [(child_name, _layers(child, depth + 1)) for child_name, child in module.named_children()]
    if children and name != "Sequential":
        raise _NotLayers(name)
    return {"class": name, "args": args, "children": children}


def _state(module: nn.Module) -> dict:
    return {
        k: v.detach().clone() for k, v in module.state_dict().items() if not isinstance(v, UninitializedTensorMixin)
    }


def _run(module: nn.Module, x: torch.Tensor):
    """What ``module`` gives on ``x`` (eval mode, no grad): a tensor, or ("raised", its exception's name), or
    ("returned", a type's name)."""
    try:
        with torch.no_grad():
            out = module(x.clone())
    except Exception as err:  # noqa: BLE001 - a wrong answer fails in many ways; the check says how
        return ("raised", type(err).__name__)
    return out.detach().clone() if type(out) is torch.Tensor else ("returned", type(out).__name__)


def _part(module: nn.Module, made: list, depth: int = 0) -> dict:
    """``module`` as data: its layers and weights, or, for a module with a forward of its own, its children so and
    the number (in ``made``) by which the grader asks for that forward."""
    try:
        return {"layers": _layers(module), "state": _state(module)}
    except _NotLayers:
        if depth >= _MAX_NESTING:
            raise
        made.append(module)
        ref = len(made) - 1
        children = [(name, _part(child, made, depth + 1)) for name, child in module.named_children()]
        return {"children": children, "class": type(module).__name__, "ref": ref}


def _describe(obj, probe: torch.Tensor, made: list) -> dict:
    """What crosses for a module: its outputs on ``probe`` (run first: lazy layers take their size from it) and
    ``_part``'s data; ``made`` keeps the modules whose forward the grader may ask for."""
    if not isinstance(obj, nn.Module):
        return {"type": type(obj).__name__}
    obj.eval()
    output = _run(obj, probe)
    try:
        return {**_part(obj, made), "output": output}
    except _NotLayers as err:
        return {"not_layers": str(err)}


def _kept(value):
    if value is None:
        return ("kept", None)
    if type(value).__module__.split(".")[0] == "numpy":
        value = torch.as_tensor(value)
    if type(value) is torch.Tensor:
        return ("kept", value.detach().clone())
    if type(value) in (tuple, list) and all(type(v) is torch.Tensor for v in value):
        return ("kept", type(value)(v.detach().clone() for v in value))
    return ("opaque", type(value).__name__)


def _facts(answer) -> dict:
    from ..exercises import lesson02, lesson05

    facts = {"type": type(answer).__name__, "is_type": isinstance(answer, type), "callable": callable(answer)}
    facts["is_module"] = isinstance(answer, nn.Module)
    facts["required"] = lesson05._required_arguments(answer) if callable(answer) else None
    try:
        facts["uses_package_block"] = bool(lesson02._is_the_package_block(answer))
    except Exception:  # noqa: BLE001 - an answer whose attributes raise
        facts["uses_package_block"] = False
    return facts


def serve_request(answer, op: str, payload: list, state: dict):
    """One request from the grader about the student's ``answer``, answered with data (in the sandbox only)."""
    if op == "facts":
        return _facts(answer)
    made = state.setdefault("made", [])  # what the requests below made, by number, for the forwards after them
    if op == "build":  # a function that builds a module: called with the check's arguments
        args, probe = payload
        return _describe(answer(*args), probe, made)
    if op == "instance":  # a module, or a class made into one as the check does
        instantiate, probe = payload
        return _describe(answer() if instantiate and isinstance(answer, type) else answer, probe, made)
    if op == "forward":  # a module made above, its own forward, and which of its children that called
        called, model = set(), made[payload[0]]
        hooks = [c.register_forward_hook(lambda *_, n=n: called.add(n)) for n, c in model.named_children()]
        try:
            with torch.no_grad():
                out = model(payload[1])
        finally:
            for hook in hooks:
                hook.remove()
        out = out.detach().clone() if type(out) is torch.Tensor else ("returned", type(out).__name__)
        return out, sorted(called)
    if op == "pre_hook":  # 05.1: the student's pre-hook on an in-place ReLU of its own, fed the check's tensor
        relu, store = nn.ReLU(inplace=True), {}
        relu.register_forward_pre_hook(answer(store))
        with torch.no_grad():
            relu(payload[0])
        return _kept(store["in"]) if "in" in store else ("missing",)
    if op == "makes_a_hook":  # 05.1: what make_pre_hook({}) returns, callable or not
        return callable(answer({}))
    if op == "param_groups":  # 09.2: the groups SGD makes of what param_groups returns for the package's model
        from ..exercises import lesson09

        model = lesson09.grouped_model()
        names = {id(p): name for name, p in model.named_parameters()}
        optimizer = torch.optim.SGD(answer(model), lr=1.0, momentum=0.9)
        return [(float(g["lr"]), [names.get(id(p)) for p in g["params"]]) for g in optimizer.param_groups]
    raise ValueError(f"no request {op!r}")


# ------------------------------------------------------------------ in the grader: stand-ins rebuilt from data


def raised(error) -> Exception:
    """The exception a request raised in the sandbox, as the check would have seen it: (its class's name, message)."""
    name, message = (error if isinstance(error, (tuple, list)) and len(error) == 2 else ("Error", str(error)))[:2]
    cls = _RAISED_AS.get(str(name))
    return cls(str(message)) if cls else RuntimeError(f"{name}: {message}")


def _plain(value) -> bool:
    if value is None or type(value) in (bool, int, float, str):
        return True
    return type(value) in (tuple, list) and len(value) <= 8 and all(type(v) in (int, float, type(None)) for v in value)


def _rebuild(tree) -> nn.Module:
    """A module of torch's own classes from ``_layers``' data (``_load`` then gives it its weights); ``Refused`` for
    anything else, or for more than ``MAX_PARAMETERS`` values."""
    with torch.device("meta"):  # sized first, where no memory is taken
        sized = _rebuilt(tree)
    tensors = (*sized.parameters(), *sized.buffers())
    values = sum(t.numel() for t in tensors if not isinstance(t, UninitializedTensorMixin))
    if values > MAX_PARAMETERS:
        raise Refused(f"the grader rebuilds modules of at most {MAX_PARAMETERS:,} values; yours has {values:,}.")
    return _rebuilt(tree)


def _rebuilt(tree, depth: int = 0) -> nn.Module:
    name = tree.get("class") if isinstance(tree, dict) else None
    args = tree.get("args") if isinstance(tree, dict) else None
    if name not in LAYERS or not isinstance(args, dict) or set(args) != set(LAYERS[name]) or depth > 64:
        raise Refused("the grader could not rebuild your module from torch.nn's layers.")
    if not all(_plain(v) for v in args.values()):
        raise Refused("the grader could not rebuild your module from torch.nn's layers.")
    children = tree.get("children") or []
    try:
        if name == "Sequential":
            return nn.Sequential(OrderedDict((str(n), _rebuilt(c, depth + 1)) for n, c in children))
        if children:
            raise ValueError(name)
        args = {k: tuple(v) if type(v) is list else v for k, v in args.items()}
        return getattr(nn, name)(**args)
    except Refused:
        raise
    except Exception as err:  # noqa: BLE001 - arguments torch refuses
        why = f"the grader could not rebuild your module from torch.nn's layers ({type(err).__name__})."
        raise Refused(why) from None


def _load(module: nn.Module, state) -> nn.Module:
    """``state`` into the rebuilt ``module``: every tensor it has, of the same shape, and nothing else."""
    own = module.state_dict(keep_vars=True)
    wanted = {k for k, v in own.items() if not isinstance(v, UninitializedTensorMixin)}
    if not isinstance(state, dict) or set(state) != wanted:
        raise Refused("the grader could not rebuild your module's weights.")
    with torch.no_grad():
        for key in wanted:
            given = state[key]
            if type(given) is not torch.Tensor or given.shape != own[key].shape:
                raise Refused("the grader could not rebuild your module's weights.")
            own[key].copy_(given)
    return module.eval()


def _same(got, shipped) -> bool:
    if type(got) is torch.Tensor and type(shipped) is torch.Tensor:
        return got.shape == shipped.shape and got.dtype == shipped.dtype and torch.allclose(got, shipped, atol=1e-5)
    return got == shipped and type(got) is tuple


DIFFERS = (
    "the grader rebuilds your module from its torch.nn layers and their weights, and those give other outputs "
    "than your module does: keep torch's own forward of each layer."
)


def _opaque(type_name: str, facts: dict | None = None):
    """An object that is none of what the check asks for, with the name of the answer's type (for its message)."""
    return type(str(type_name), (), {"seen_apart": facts or {}})()


class Forwarded(nn.Module):
    """A module whose forward runs in the sandbox: its children rebuilt here, each call of it one request."""

    def __init__(self, children, remote, ref: int, facts: dict):
        super().__init__()
        for name, child in children:
            self.add_module(name, child)
        self.__dict__.update(_remote=remote, _ref=ref, seen_apart=facts)  # not children, whatever their names

    def forward(self, x):
        out, called = self._remote.ask("forward", self._ref, x)
        if {"features", "classifier"} <= set(called):  # what those layers give, so that a hook of the check sees it
            try:
                self.classifier(torch.flatten(self.features(x), 1))
            except Exception:  # noqa: BLE001 - then no hook of the check sees them
                pass
        return out if type(out) is torch.Tensor else _opaque(out[1] if isinstance(out, tuple) else "object")


def _module_from(description: dict, probe: torch.Tensor, remote, facts: dict):
    """The stand-in for what crossed (``_describe``): a rebuilt module, a ``Forwarded`` one, or an opaque object."""
    if "type" in description:
        return _opaque(description["type"], facts)
    if "not_layers" in description:
        raise Refused(
            f"the grader rebuilds modules from torch.nn's own layers (nn.Sequential, nn.Conv2d, nn.ReLU, "
            f"nn.MaxPool2d, nn.Linear ...); {description['not_layers']} is not one of them: build it from those."
        )
    module = _part_from(description, remote, facts)
    if "layers" in description and not _same(_run(module, probe), description.get("output")):
        raise Refused(DIFFERS)
    return module


def _part_from(description, remote, facts: dict, depth: int = 0) -> nn.Module:
    """``_part``'s data made a module again: layers rebuilt and their weights loaded, or a ``Forwarded`` module."""
    if isinstance(description, dict) and "layers" in description:
        return _load(_rebuild(description["layers"]), description.get("state"))
    try:
        if depth > _MAX_NESTING:
            raise ValueError(depth)
        children = [(str(n), _part_from(d, remote, facts, depth + 1)) for n, d in description["children"]]
        return Forwarded(children, remote, int(description["ref"]), facts)
    except (KeyError, TypeError, ValueError):
        raise Refused("the grader could not rebuild your module.") from None


def _probe(shape) -> torch.Tensor:
    """A random input the sandbox cannot predict."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(int.from_bytes(os.urandom(7), "little")))


def _builder(exercise_id: str, remote, facts: dict):
    side = _BUILT_BY_A_FUNCTION[exercise_id]

    def built_apart(*args):
        probe = _probe((2, int(args[1]), side, side))
        return _module_from(remote.ask("build", list(args), probe), probe, remote, facts)

    built_apart.seen_apart = facts
    return built_apart


def _module_class(exercise_id: str, remote, facts: dict):
    """A class stand-in: making an instance (as the check does) makes one in the sandbox."""

    def made(cls):
        probe = _probe(_MODULE_INPUTS[exercise_id])
        return _module_from(remote.ask("instance", True, probe), probe, remote, facts)

    return type("Answer", (), {"__new__": made, "seen_apart": facts})


def _hook_maker(remote, facts: dict):
    """05.1: make_pre_hook's stand-in; each call of the pre-hook it makes is one request."""

    def make_pre_hook(store):
        makes_a_hook = remote.ask("makes_a_hook")

        def pre_hook(module, inputs):
            kept = remote.ask("pre_hook", inputs[0].detach().clone())
            if kept[0] == "kept":
                store["in"] = kept[1]
            elif kept[0] == "opaque":
                store["in"] = _opaque(kept[1])

        return pre_hook if makes_a_hook else None

    required = facts.get("required")
    if type(required) is int and 0 <= required <= 8:  # as many arguments as the student's function needs
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        names = ["store"] if required == 1 else [f"a{i}" for i in range(required)]
        make_pre_hook.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names])
    return make_pre_hook


def _param_groups(remote):
    """09.2: param_groups' stand-in: the groups the sandbox saw, made of the grader's model's own parameters."""

    def param_groups(model):
        groups = remote.ask("param_groups")
        params = dict(model.named_parameters())
        return [
            {"params": [params[n] if n in params else nn.Parameter(torch.zeros(1)) for n in names], "lr": lr}
            for lr, names in groups
        ]

    return param_groups


def stand_in(exercise_id: str, remote, source: str = ""):
    """What the check is given in place of the student's answer to ``exercise_id`` (one of ``KINDS``), which stays
    in the sandbox behind ``remote`` (``serve.Remote``); ``source``: the answer's source, as its notebook recorded."""
    facts = {**remote.ask("facts"), "source": source}
    if not facts["callable"]:
        return _opaque(facts["type"], facts)
    if KINDS[exercise_id] == "hook":
        return _hook_maker(remote, facts)
    if KINDS[exercise_id] == "groups":
        return _param_groups(remote)
    if exercise_id in _BUILT_BY_A_FUNCTION:
        return _builder(exercise_id, remote, facts) if not facts["is_module"] else _opaque(facts["type"], facts)
    if facts["is_type"] and exercise_id in INSTANTIATED:
        return _module_class(exercise_id, remote, facts)
    if not facts["is_module"]:
        return _opaque(facts["type"], facts)
    probe = _probe(_MODULE_INPUTS[exercise_id])
    return _module_from(remote.ask("instance", False, probe), probe, remote, facts)
