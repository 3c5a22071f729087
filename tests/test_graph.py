"""Specification of dlcourse.graph: gates and the worked example f = (x + y)·max(y, z)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse.gradcheck import numerical_gradient
from dlcourse.graph import (
    AddGate,
    CopyGate,
    Graph,
    MaxGate,
    MultiplyGate,
    worked_example,
    worked_example_graph,
)


def test_worked_example_value_is_6_and_gradient_is_2_5_0_exactly():
    value, grads = worked_example()
    assert value == 6.0
    assert grads == (2.0, 5.0, 0.0)


def test_graph_agrees_with_the_hand_worked_example():
    g = worked_example_graph()
    assert g.forward({"x": 1.0, "y": 2.0, "z": 0.0}) == 6.0
    grads = g.backward()
    assert (grads["x"], grads["y"], grads["z"]) == (2.0, 5.0, 0.0)


def test_y_used_twice_gets_the_sum_of_both_paths():
    g = worked_example_graph()
    g.forward({"x": 1.0, "y": 2.0, "z": 0.0})
    grads = g.backward()
    # through the add: ∂f/∂q = m = 2; through the max: ∂f/∂m = q = 3
    assert grads["q"] == 2.0 and grads["m"] == 3.0
    assert grads["y"] == grads["q"] + grads["m"]


@pytest.mark.parametrize("x, y, z", [(1.0, 2.0, 0.0), (-0.5, 0.3, 1.7), (2.0, -1.0, -3.0)])
def test_worked_example_matches_centered_differences(x, y, z):
    def f(v):
        return (v[0] + v[1]) * max(v[1], v[2])

    value, grads = worked_example(x, y, z)
    v = np.array([x, y, z])
    assert_allclose(value, f(v), rtol=1e-12)
    assert_allclose(grads, numerical_gradient(f, v), rtol=1e-7, atol=1e-9)


def test_add_gate_distributes():
    gate = AddGate()
    assert gate.forward(2.0, 3.0) == 5.0
    assert gate.backward(7.0) == (7.0, 7.0)


def test_multiply_gate_swaps():
    gate = MultiplyGate()
    assert gate.forward(2.0, 3.0) == 6.0
    assert gate.backward(10.0) == (30.0, 20.0)


def test_max_gate_routes_to_the_larger_input():
    gate = MaxGate()
    assert gate.forward(2.0, 5.0) == 5.0
    assert gate.backward(4.0) == (0.0, 4.0)


def test_max_gate_is_element_wise_on_arrays():
    gate = MaxGate()
    out = gate.forward(np.array([1.0, 5.0]), np.array([3.0, 2.0]))
    assert_allclose(out, [3.0, 5.0])
    da, db = gate.backward(np.array([10.0, 20.0]))
    assert_allclose(da, [0.0, 20.0])
    assert_allclose(db, [10.0, 0.0])


def test_copy_gate_adds_the_gradients_of_its_uses():
    gate = CopyGate(3)
    assert gate.forward(1.5) == (1.5, 1.5, 1.5)
    assert gate.backward((1.0, 2.0, 4.0)) == (7.0,)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        MultiplyGate().backward(1.0)


def test_graph_sorts_nodes_added_in_any_order():
    g = Graph()
    g.add_node("f", MultiplyGate(), ["q", "m"])
    g.add_node("m", MaxGate(), ["y", "z"])
    g.add_node("q", AddGate(), ["x", "y"])
    order = g.topological_order()
    assert order.index("f") > order.index("q") and order.index("f") > order.index("m")
    assert g.inputs == ["x", "y", "z"]
    assert g.forward({"x": 1.0, "y": 2.0, "z": 0.0}) == 6.0
    grads = g.backward()
    assert (grads["x"], grads["y"], grads["z"]) == (2.0, 5.0, 0.0)


def test_graph_reports_a_cycle():
    g = Graph()
    g.add_node("a", AddGate(), ["b", "x"])
    g.add_node("b", AddGate(), ["a", "x"])
    with pytest.raises(ValueError, match="cycle"):
        g.topological_order()


def test_graph_names_the_missing_inputs():
    g = worked_example_graph()
    with pytest.raises(KeyError, match="z"):
        g.forward({"x": 1.0, "y": 2.0})


def test_graph_rejects_reusing_a_gate_instance():
    g = Graph()
    gate = AddGate()
    g.add_node("a", gate, ["x", "y"])
    with pytest.raises(ValueError, match="instance"):
        g.add_node("b", gate, ["a", "y"])


def test_graph_rejects_wrong_number_of_inputs():
    with pytest.raises(ValueError, match="takes 2 inputs"):
        Graph().add_node("a", AddGate(), ["x"])
