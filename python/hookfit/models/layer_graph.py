"""From a graph of layer calls to the core's node list and network.

A model is a directed acyclic graph of layer calls from its input tensors
to its one output tensor. ``trace`` orders the calls as tf-keras does
(deepest first, ties in discovery order), ``node_list`` writes the core's
node dicts (see GRAPH_SPEC.md: inputs read column slices of one x matrix,
Flatten/InputLayer add no node) and ``make_network`` builds the compiled
network and hands each layer views of its weights.
"""

from __future__ import annotations

from hookfit._native import core
from hookfit.layers.layer import node_kind
from hookfit.unsupported import NotSupportedError


class Call:
    """One layer call: ``output = layer(inputs)``."""

    __slots__ = ("layer", "inputs", "output")

    def __init__(self, layer, inputs, output):
        self.layer, self.inputs, self.output = layer, list(inputs), output


def trace(inputs: list, output) -> list:
    """The calls that compute ``output`` from ``inputs``, producers first.

    Refuses a graph that needs an input not given, and a layer used twice
    (shared layers would need shared weights, which the core does not have).
    """
    given = {id(t) for t in inputs}
    calls: dict[int, Call] = {}  # in DFS post-order: producers before consumers
    on_path: set[int] = set()

    def visit(tensor):
        key = id(tensor)
        if key in calls:
            return
        if key in on_path:
            raise ValueError("the graph has a cycle")
        if key not in given:
            if not tensor._inputs:
                raise ValueError(
                    f"Graph disconnected: cannot obtain value for tensor {tensor!r} at layer "
                    f'"{tensor._layer.name}": it is not among the model\'s inputs '
                    f"{[t.name for t in inputs]}. Pass it in inputs=[...]"
                )
            on_path.add(key)
            for t in tensor._inputs:
                visit(t)
            on_path.discard(key)
        calls[key] = Call(tensor._layer, [] if key in given else tensor._inputs, tensor)

    visit(output)
    # Depth = longest path to the output (tf-keras orders layers by it).
    depth = {key: 0 for key in calls}
    for key in reversed(list(calls)):
        for t in calls[key].inputs:
            depth[id(t)] = max(depth[id(t)], depth[key] + 1)
    deepest = max(depth.values())
    for t in inputs:  # an input the output does not use still has a place
        if id(t) not in calls:
            calls[id(t)] = Call(t._layer, [], t)
            depth[id(t)] = deepest + 1
    index = {key: i for i, key in enumerate(calls)}
    result = [calls[k] for k in sorted(calls, key=lambda k: (-depth[k], index[k]))]
    seen = set()
    for call in result:
        if id(call.layer) in seen:
            raise NotSupportedError(
                f"hookfit does not support shared layers: layer {call.layer.name!r} is called "
                "twice in this model; create one layer per use"
            )
        seen.add(id(call.layer))
    return result


def node_list(inputs: list, calls: list, output):
    """(x_width, nodes, output index, {layer id: node index}) for the core."""
    nodes: list[dict] = []
    where: dict[int, int] = {}  # tensor id -> node index holding its value
    layer_node: dict[int, int] = {}
    offset = 0
    for t in inputs:
        where[id(t)] = len(nodes)
        nodes.append({"kind": node_kind("INPUT"), "offset": offset, "width": t.width})
        offset += t.width
    for call in calls:
        if id(call.output) in where:  # an input
            continue
        sources = [where[id(t)] for t in call.inputs]
        node = call.layer._graph_node(sources)
        if node is None:  # a no-op on flat rows (Flatten)
            where[id(call.output)] = sources[0]
            continue
        node.setdefault("name", call.layer.name)  # for the core's error messages
        where[id(call.output)] = len(nodes)
        layer_node[id(call.layer)] = len(nodes)
        nodes.append(node)
    return offset, nodes, where[id(output)], layer_node


def make_network(x_width: int, nodes: list, output: int):
    """(network, views(node index) -> list of that node's weight arrays)."""
    network = core.Network.from_graph(x_width, nodes, output)
    return network, lambda i: list(network.node_weights(i))
