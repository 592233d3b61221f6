"""Model graphs for the Graphs dashboard: ``add_graph`` and ``add_onnx_graph`` (docs/FORMAT.md §3.4, §4).

:func:`graph_events` traces a torch module with ``torch.jit.trace`` (torch is imported only inside
it) and describes the inlined TorchScript graph as a ``GraphDef`` with the node names, ops,
inputs, ``attr`` strings and ``_output_shapes`` that ``torch.utils.tensorboard``'s ``add_graph``
produces, so the dashboard shows the same picture:

* graph inputs that are used (except the module itself) become ``input/<debug name>``, graph
  outputs ``output/output.<i>`` (op ``"IO Node"``, shape ``[1]`` when unknown);
* every output of every TorchScript node becomes a node named ``<scope>/<debug name>``, where the
  scope is the root module's class name followed by ``<Class>[<attribute>]`` for each submodule
  (``Net/Sequential[seq]/Linear[1]/94``); parameter reads (``prim::GetAttr``) are scoped under
  their module plus the attribute name; the op is the TorchScript kind (``aten::linear``);
* ``attr["attr"]`` holds the node's attributes as ``str(dict)`` with quotes turned into spaces,
  ``attr["_output_shapes"]`` the output's sizes when the tracer knows them;
* an input that comes from a value with no node of its own (a submodule object) is named after
  the scope of the last node that reads it, exactly as torch names it (the edge dangles there too).

Also: ``versions.producer`` 22 and a ``RunMetadata`` with one ``/device:CPU:0`` entry (what
TensorBoard needs to accept the ``step1`` run metadata). :func:`graph_def_from` takes a ready
``GraphDef`` (this package's, TensorBoard's or TensorFlow's, or its bytes), :func:`onnx_graph_def`
an ONNX file.

Differences from torch: a model that cannot be traced raises :class:`GraphTraceError` naming the
cause (torch prints the error and re-raises the bare tracer error); ``input_to_model=None`` traces
``model()`` with no arguments (torch calls ``model(None)``); a plain function can be traced as
well; torch's ``FutureWarning`` that ``torch.jit.trace`` is deprecated is not passed on (the
caller did not call it), the tracer's own warnings are.

:func:`keras_model_summary` is the other thing the Graphs dashboard shows: a Keras model's config
(plugin ``graph_keras_model``), as the Keras adapter writes it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

from .. import protos
from ..metadata import GRAPH_KERAS_MODEL_CONTENT, PLUGIN_GRAPH_KERAS_MODEL, summary_metadata

PRODUCER_VERSION = 22
"""``GraphDef.versions.producer`` as torch writes it."""

DEVICE = "/device:CPU:0"
"""The one device listed in the run metadata (torch hardcodes it as well)."""


class GraphTraceError(RuntimeError):
    """``torch.jit.trace`` could not trace the model; the message names the cause."""


def run_metadata() -> "protos.RunMetadata":
    """``RunMetadata{step_stats{dev_stats[{device "/device:CPU:0"}]}}`` written as the ``step1`` tag."""
    return protos.RunMetadata(step_stats=protos.StepStats(dev_stats=[protos.DeviceStepStats(device=DEVICE)]))


def is_graph_def(obj: Any) -> bool:
    """True for a ``GraphDef`` protobuf message of any package (eventwriter, TensorBoard, TensorFlow)."""
    descriptor = getattr(obj, "DESCRIPTOR", None)
    return getattr(descriptor, "name", None) == "GraphDef" and hasattr(obj, "SerializeToString")


def graph_def_from(obj: Any) -> "protos.GraphDef":
    """Convert a ready graph to this package's ``GraphDef``.

    Args:
        obj: a ``GraphDef`` message (this package's is returned as is; TensorBoard's or
            TensorFlow's is re-parsed from its bytes), its serialized bytes, or an object with
            ``as_graph_def()`` (a ``tf.Graph``).

    Raises:
        TypeError: ``obj`` is none of these.
        ValueError: the bytes are not a serialized ``GraphDef``.
    """
    if isinstance(obj, protos.GraphDef):
        return obj
    if not is_graph_def(obj) and not isinstance(obj, (bytes, bytearray, memoryview)) and callable(getattr(obj, "as_graph_def", None)):
        obj = obj.as_graph_def()
    if is_graph_def(obj):
        data = obj.SerializeToString()
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
    else:
        raise TypeError(f"expected a GraphDef message or its serialized bytes, got {type(obj).__name__}")
    from google.protobuf.message import DecodeError

    try:
        return protos.GraphDef.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"the bytes are not a serialized GraphDef: {exc}") from exc


def graph_events(
    model: Any, input_to_model: Any = None, verbose: bool = False, use_strict_trace: bool = True
) -> Tuple["protos.GraphDef", "protos.RunMetadata"]:
    """Trace ``model`` and return ``(GraphDef, RunMetadata)`` as torch's ``add_graph`` builds them.

    Args:
        model: a ``torch.nn.Module`` (or a function of tensors). A ready ``GraphDef`` or its
            bytes are accepted too and returned through :func:`graph_def_from`.
        input_to_model: the example input: a tensor, or a tuple of positional arguments
            (``torch.jit.trace``'s ``example_inputs``). None traces ``model()``.
        verbose: print the traced TorchScript graph.
        use_strict_trace: passed as ``strict`` to ``torch.jit.trace``; False lets the model
            return lists and dicts.

    Returns:
        The graph and the run metadata to log as tag ``step1``.

    Raises:
        TypeError: ``model`` is not callable.
        GraphTraceError: tracing failed (the message names the exception and its text). The
            model's training mode is restored in any case.
    """
    if is_graph_def(model) or isinstance(model, (bytes, bytearray, memoryview)):
        return graph_def_from(model), run_metadata()
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
    import torch

    trace, graph = _trace(torch, model, input_to_model, use_strict_trace)
    if verbose:
        print(graph)
    nodes = _graph_nodes(torch, graph, trace)
    return protos.GraphDef(node=nodes, versions=protos.VersionDef(producer=PRODUCER_VERSION)), run_metadata()


def keras_model_summary(tag: str, config_json: str) -> "protos.Summary":
    """Summary as Keras's ``keras_model_summary`` writes it: the Graphs dashboard's conceptual graph.

    The model's JSON config (``model.to_json()``) as a rank-0 ``DT_STRING`` tensor, metadata plugin
    ``graph_keras_model`` with content ``b"1"`` (Keras's format version).

    Raises:
        TypeError: ``config_json`` is not a str.
    """
    import numpy as np

    from ..tensor_codec import tensor_proto

    if not isinstance(config_json, str):
        raise TypeError(f"config_json must be a str, got {type(config_json).__name__}")
    metadata = summary_metadata(PLUGIN_GRAPH_KERAS_MODEL, GRAPH_KERAS_MODEL_CONTENT)
    tensor = tensor_proto(np.array(config_json, dtype=object))
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])


def onnx_graph_def(path: Any) -> "protos.GraphDef":
    """Describe an ONNX model file as a ``GraphDef``, node for node as torch's ``add_onnx_graph``.

    One ``"Variable"`` node per graph input and output (attrs ``dtype`` = the ONNX element type
    number, ``shape``), then one node per ONNX operator named after its first output, with the
    operator's inputs and its attributes as text in ``parameters``.

    Raises:
        ImportError: the ``onnx`` package is not installed.
        FileNotFoundError: ``path`` does not exist.
    """
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("add_onnx_graph needs the 'onnx' package (pip install onnx)") from exc
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        raise FileNotFoundError(f"ONNX model file not found: {os.fspath(path)!r}")
    graph = onnx.load(path).graph
    nodes = []
    for value in list(graph.input) + list(graph.output):
        tensor_type = value.type.tensor_type
        shape = protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=d.dim_value) for d in tensor_type.shape.dim])
        nodes.append(
            protos.NodeDef(
                name=value.name,
                op="Variable",
                attr={"dtype": protos.AttrValue(type=tensor_type.elem_type), "shape": protos.AttrValue(shape=shape)},
            )
        )
    for node in graph.node:
        # each attribute as " = ".join of its set fields (name, value, type), attributes joined by ", "
        parameters = ", ".join(" = ".join(str(value) for _field, value in attribute.ListFields()) for attribute in node.attribute)
        nodes.append(
            protos.NodeDef(
                name=node.output[0] if len(node.output) else (node.name or node.op_type),
                op=node.op_type,
                input=list(node.input),
                attr={"parameters": protos.AttrValue(s=parameters.encode("utf-8"))},
            )
        )
    return protos.GraphDef(node=nodes, versions=protos.VersionDef(producer=PRODUCER_VERSION))


# ---------------------------------------------------------------------------------------------
# tracing


def _trace(torch: Any, model: Any, example: Any, strict: bool) -> Tuple[Any, Any]:
    is_module = isinstance(model, torch.nn.Module)
    was_training = model.training if is_module else None
    name = type(model).__name__
    try:
        if is_module:
            model.train(False)  # trace in eval mode (dropout, batch norm), as torch does
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* is deprecated", category=FutureWarning)
            trace = torch.jit.trace(model, () if example is None else example, strict=strict)
        graph = trace.graph
        torch._C._jit_pass_inline(graph)
    except Exception as exc:
        hint = ""
        if strict and ("dict" in str(exc).lower() or "list" in str(exc).lower()):
            hint = " (pass use_strict_trace=False to allow list/dict outputs)"
        raise GraphTraceError(f"cannot trace {name} with torch.jit.trace: {type(exc).__name__}: {exc}{hint}") from exc
    finally:
        if is_module:
            model.train(was_training)
    return trace, graph


class _Entry:
    """One future NodeDef: keyed by a TorchScript value's debug name until names are resolved."""

    __slots__ = ("name", "op", "inputs", "sizes", "attributes", "prefix")

    def __init__(self, name: str, op: str, inputs: List[str], sizes: Optional[List[int]], attributes: str, prefix: str) -> None:
        self.name = name  # debug name, later the scoped name
        self.op = op
        self.inputs = inputs
        self.sizes = sizes
        self.attributes = attributes
        self.prefix = prefix  # "input", "output" or the node's scope


def _value_sizes(value: Any) -> List[int]:
    try:
        sizes = value.type().sizes()
    except (RuntimeError, AttributeError):  # not a tensor, or a tensor of unknown shape
        return [1]
    return [1] if sizes is None else list(sizes)


def _output_sizes(value: Any) -> Optional[List[int]]:
    return list(value.type().sizes()) if value.isCompleteTensor() else None


def _attributes(node: Any) -> str:
    # torch shows str({name: value}) with every single quote replaced by a space
    values = {key: getattr(node, node.kindOf(key))(key) for key in node.attributeNames()}
    return str(values).replace("'", " ")


def _module_label(torch: Any, module: Any) -> str:
    if isinstance(module, torch.jit.TracedModule):
        return module._name
    return getattr(module, "original_name", "Module")


def _graph_nodes(torch: Any, graph: Any, trace: Any) -> List["protos.NodeDef"]:
    entries: Dict[str, _Entry] = {}  # insertion order is the NodeDef order
    for value in graph.inputs():
        if len(value.uses()) == 0 or value.type().kind() == "ClassType":
            continue
        debug = value.debugName()
        entries[debug] = _Entry(debug, "IO Node", [], _value_sizes(value), "", "input")

    # op nodes: (scope alias path, kind, input names, [(output name, sizes)], attributes)
    ops = []
    getattr_scope: Dict[str, str] = {}
    for node in graph.nodes():
        kind = node.kind()
        if kind == "prim::GetAttr":
            key = node.output().debugName()
            parent = node.input().node()
            if parent.kind() == "prim::GetAttr":
                parent_scope = getattr_scope[parent.output().debugName()]
                scope = f"{parent_scope}/{parent_scope.split('/')[-1]}.{node.s('name')}"
            else:
                scope = f"__module.{node.s('name')}"
            getattr_scope[key] = scope
            if node.output().type().kind() == "ClassType":
                continue  # a submodule object: the scopes already say where things live
        else:
            scope = node.scopeName()
        outputs = [(out.debugName(), _output_sizes(out)) for out in node.outputs()]
        ops.append([scope, kind, [v.debugName() for v in node.inputs()], outputs, _attributes(node)])

    for i, value in enumerate(graph.outputs()):
        key = f"output.{i + 1}"
        entries[key] = _Entry(key, "IO Node", [value.debugName()], _value_sizes(value), "", "output")

    # "__module.a.b" -> "Class[b]"; the scope path becomes "<Root>/<Class[a]>/<Class[b]>/..."
    root = _module_label(torch, trace)
    labels = {}
    if hasattr(trace, "named_modules"):
        for path, module in trace.named_modules(prefix="__module"):
            labels[path] = f"{_module_label(torch, module)}[{path.split('.')[-1]}]"
    for op in ops:
        parts = [labels.get(alias, alias.split(".")[-1]) for alias in op[0].split("/")]
        op[0] = root + ("/" + "/".join(parts) if any(parts) else "")

    for scope, kind, inputs, outputs, attributes in ops:
        for debug, sizes in outputs:
            entries[debug] = _Entry(debug, kind, inputs, sizes, attributes, scope)

    # Scoped names. A value read by ops gets the scope of the last op reading it; a value with an
    # entry of its own (graph input/output or op output) gets that entry's name instead.
    scoped: Dict[str, str] = {}
    for scope, _kind, inputs, _outputs, _attributes_text in ops:
        for debug in inputs:
            scoped[debug] = f"{scope}/{debug}"
    for key, entry in entries.items():
        scoped[key] = f"{entry.prefix}/{entry.name}"

    nodes = []
    for entry in entries.values():
        attr = {"attr": protos.AttrValue(s=entry.attributes.encode("utf-8"))}
        if entry.sizes is not None:
            shape = protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=d) for d in entry.sizes])
            attr["_output_shapes"] = protos.AttrValue(list=protos.AttrValue.ListValue(shape=[shape]))
        nodes.append(
            protos.NodeDef(
                name=scoped.get(entry.name, entry.name),
                op=entry.op,
                input=[scoped[debug] for debug in entry.inputs],
                attr=attr,
            )
        )
    return nodes
