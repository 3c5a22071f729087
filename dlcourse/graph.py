r"""Backpropagation as gates: forward/backward pairs and a tiny topologically sorted graph.

Every node of a computation graph is a *gate*: ``forward`` computes its output
from its inputs (and caches what it needs), ``backward`` takes the upstream
gradient ∂f/∂out and returns the downstream gradients ∂f/∂in_k by the chain rule,

.. math::  \frac{\partial f}{\partial \text{in}_k} =
           \frac{\partial f}{\partial \text{out}} \cdot \frac{\partial \text{out}}{\partial \text{in}_k}.

The four gates and their intuitions (cs231n "Backpropagation, Intuitions";
CS224n lecture "Backpropagation and computation graphs"):

* **add distributes**: out = a + b, both inputs receive the upstream gradient.
* **multiply swaps**: out = a·b, a receives upstream·b and b receives upstream·a.
* **max routes**: out = max(a, b), the larger input receives the whole upstream
  gradient, the other gets 0 (ties go to the first input).
* **copy adds**: a value used twice (fan-out) receives the *sum* of the gradients
  of its uses: this is the multivariate chain rule.

The worked example f(x, y, z) = (x + y)·max(y, z) at (1, 2, 0) has value 6 and
gradient (2, 5, 0): y is used twice, by the add (gradient 2) and by the max
(gradient 3), so ∂f/∂y = 2 + 3 = 5. See :func:`worked_example`.

All gates work element-wise on scalars and NumPy arrays.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "Gate",
    "AddGate",
    "MultiplyGate",
    "MaxGate",
    "CopyGate",
    "Graph",
    "worked_example",
    "worked_example_graph",
]


class Gate:
    """Base class: ``forward(*inputs) -> output``, ``backward(upstream) -> tuple of input grads``.

    A gate instance caches its last forward inputs, so use one instance per node.
    """

    n_inputs: int = 2

    def forward(self, *inputs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, upstream):  # pragma: no cover - interface
        raise NotImplementedError

    def _need_forward(self):
        if not hasattr(self, "_cache"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class AddGate(Gate):
    r"""out = a + b;  ∂out/∂a = ∂out/∂b = 1, so the upstream gradient is *distributed*."""

    def forward(self, a, b):
        self._cache = None
        return a + b

    def backward(self, upstream):
        self._need_forward()
        return upstream, upstream


class MultiplyGate(Gate):
    r"""out = a·b;  ∂out/∂a = b, ∂out/∂b = a, so the inputs are *swapped* into the gradients."""

    def forward(self, a, b):
        self._cache = (a, b)
        return a * b

    def backward(self, upstream):
        a, b = self._need_forward()
        return upstream * b, upstream * a


class MaxGate(Gate):
    r"""out = max(a, b);  the gradient is *routed* to the larger input, 0 to the other.

    Ties (a == b) route everything to ``a`` (a valid subgradient; only one input
    gets it, so the total is still the upstream gradient).
    """

    def forward(self, a, b):
        self._cache = np.asarray(a) >= np.asarray(b)
        return np.maximum(a, b) if np.ndim(a) or np.ndim(b) else max(a, b)

    def backward(self, upstream):
        a_wins = self._need_forward()
        zero = upstream * 0
        if np.ndim(a_wins) == 0:
            return (upstream, zero) if bool(a_wins) else (zero, upstream)
        return np.where(a_wins, upstream, zero), np.where(a_wins, zero, upstream)


class CopyGate(Gate):
    r"""Fan-out: one value used ``n`` times. forward(a) -> (a, a, ...);
    backward(upstreams) -> (Σ upstreams,): the gradients of the uses *add*.
    """

    n_inputs = 1

    def __init__(self, n: int = 2):
        if int(n) != n or n < 1:
            raise ValueError(f"CopyGate needs n >= 1 copies, got {n!r}")
        self.n = int(n)

    def forward(self, a):
        self._cache = None
        return tuple(a for _ in range(self.n))

    def backward(self, upstream):
        self._need_forward()
        if not isinstance(upstream, (tuple, list)) or len(upstream) != self.n:
            raise ValueError(
                f"CopyGate(n={self.n}).backward needs a sequence of {self.n} upstream gradients"
            )
        total = upstream[0]
        for g in upstream[1:]:
            total = total + g
        return (total,)

    def __repr__(self) -> str:
        return f"CopyGate(n={self.n})"


class Graph:
    r"""A tiny computation graph of named nodes, each a gate applied to named inputs.

    Nodes may be added in any order; :meth:`topological_order` sorts them (Kahn's
    algorithm) so :meth:`forward` visits every node after its inputs and
    :meth:`backward` visits them in reverse. Any name that is used as an input
    but is not a node is a graph *input*, fed by :meth:`forward`. A value used by
    several nodes gets the sum of their gradients (an implicit :class:`CopyGate`).

    Example, f = (x + y)·max(y, z)::

        g = Graph()
        g.add_node("f", MultiplyGate(), ["q", "m"])   # order does not matter
        g.add_node("q", AddGate(), ["x", "y"])
        g.add_node("m", MaxGate(), ["y", "z"])
        g.forward({"x": 1.0, "y": 2.0, "z": 0.0})     # 6.0
        g.backward()                                  # {'x': 2.0, 'y': 5.0, 'z': 0.0, ...}
    """

    def __init__(self):
        self.nodes: dict[str, tuple[Gate, tuple[str, ...]]] = {}
        self.values: dict = {}
        self.grads: dict = {}
        self.output: str | None = None

    def add_node(self, name: str, gate: Gate, inputs: Sequence[str]) -> str:
        """Add node ``name`` computing ``gate.forward(*[value of i for i in inputs])``; returns ``name``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"node name must be a non-empty string, got {name!r}")
        if name in self.nodes:
            raise ValueError(f"node {name!r} already exists")
        if not isinstance(gate, Gate) or isinstance(gate, CopyGate):
            raise TypeError(
                f"node {name!r}: gate must be an AddGate, MultiplyGate or MaxGate instance "
                "(fan-out is handled by the graph itself), got " + repr(gate)
            )
        if any(gate is g for g, _ in self.nodes.values()):
            raise ValueError(f"node {name!r}: this gate instance is already used by another node")
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        if len(inputs) != gate.n_inputs:
            raise ValueError(f"node {name!r}: {type(gate).__name__} takes {gate.n_inputs} inputs, got {len(inputs)}")
        self.nodes[name] = (gate, inputs)
        return name

    @property
    def inputs(self) -> list[str]:
        """Names used as inputs that are not nodes (sorted)."""
        return sorted({i for _, ins in self.nodes.values() for i in ins} - set(self.nodes))

    def topological_order(self) -> list[str]:
        """Node names such that every node comes after the nodes it reads. Raises on a cycle."""
        indegree = {n: sum(i in self.nodes for i in ins) for n, (_, ins) in self.nodes.items()}
        users: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n, (_, ins) in self.nodes.items():
            for i in ins:
                if i in self.nodes:
                    users[i].append(n)
        ready = [n for n in self.nodes if indegree[n] == 0]  # insertion order: deterministic
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for u in users[n]:
                indegree[u] -= 1
                if indegree[u] == 0:
                    ready.append(u)
        if len(order) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(order))
            raise ValueError(f"the graph has a cycle through nodes {stuck}")
        return order

    def _sinks(self) -> list[str]:
        used = {i for _, ins in self.nodes.values() for i in ins}
        return [n for n in self.nodes if n not in used]

    def forward(self, feed: Mapping, output: str | None = None):
        """Evaluate every node in topological order; return the value of ``output``.

        ``feed`` maps every graph input name to its value. ``output`` defaults to
        the only node no other node reads.
        """
        if not self.nodes:
            raise ValueError("the graph has no nodes")
        missing = [i for i in self.inputs if i not in feed]
        if missing:
            raise KeyError(f"forward needs values for the graph inputs {missing}")
        if output is None:
            sinks = self._sinks()
            if len(sinks) != 1:
                raise ValueError(f"the graph has several outputs {sinks}; pass output=")
            output = sinks[0]
        elif output not in self.nodes:
            raise KeyError(f"unknown output node {output!r}")
        self.output = output
        self.values = {i: feed[i] for i in self.inputs}
        for n in self.topological_order():
            gate, ins = self.nodes[n]
            self.values[n] = gate.forward(*(self.values[i] for i in ins))
        return self.values[output]

    def backward(self, upstream=1.0) -> dict:
        """Backpropagate from the output in reverse topological order.

        Returns a dict name -> ∂output/∂name for every input and every node.
        Gradients of a value with several users are *added* (copy gate).
        """
        if self.output is None:
            raise RuntimeError("call forward before backward")
        grads = {name: 0.0 * np.asarray(v) if np.ndim(v) else 0.0 for name, v in self.values.items()}
        grads[self.output] = upstream
        for n in reversed(self.topological_order()):
            gate, ins = self.nodes[n]
            for i, g in zip(ins, gate.backward(grads[n])):
                grads[i] = grads[i] + g  # accumulate: fan-out adds
        self.grads = grads
        return grads


def worked_example_graph() -> Graph:
    """The :class:`Graph` of f(x, y, z) = (x + y)·max(y, z): nodes 'q' = x+y, 'm' = max(y, z), 'f' = q·m."""
    g = Graph()
    g.add_node("q", AddGate(), ["x", "y"])
    g.add_node("m", MaxGate(), ["y", "z"])
    g.add_node("f", MultiplyGate(), ["q", "m"])
    return g


def worked_example(x: float = 1.0, y: float = 2.0, z: float = 0.0):
    r"""f(x, y, z) = (x + y)·max(y, z), forward and backward by hand with gates.

    At the default (1, 2, 0): q = x + y = 3, m = max(y, z) = 2, f = q·m = 6;
    backward: ∂f/∂q = m = 2, ∂f/∂m = q = 3 (multiply swaps); add distributes
    2 to x and to y; max routes 3 to y (y > z) and 0 to z; y was copied, so its
    two gradients add: ∂f/∂y = 2 + 3 = 5. Result: ``(6.0, (2.0, 5.0, 0.0))``.

    Returns ``(value, (dx, dy, dz))`` as floats.
    """
    copy, add, mx, mul = CopyGate(2), AddGate(), MaxGate(), MultiplyGate()
    y1, y2 = copy.forward(float(y))          # y is used twice
    q = add.forward(float(x), y1)
    m = mx.forward(y2, float(z))
    f = mul.forward(q, m)

    dq, dm = mul.backward(1.0)               # multiply swaps
    dx, dy1 = add.backward(dq)               # add distributes
    dy2, dz = mx.backward(dm)                # max routes
    (dy,) = copy.backward((dy1, dy2))        # copy adds
    return float(f), (float(dx), float(dy), float(dz))
