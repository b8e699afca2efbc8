"""The diagram layout (pure geometry) and the matplotlib renderer."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from archspace.plots import draw_diagram
from archspace.plots._layout import Box, Panel, layout
from archspace.space.diagram import Diagram, DiagramEdge, DiagramNode

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OPS = ("sep_conv_3x3", "max_pool_3x3", "skip_connect", "dil_conv_5x5")


def darts_like_cell(title: str = "normal") -> Diagram:
    """Two inputs, four nodes each taking two earlier nodes, an output concatenating all four."""
    nodes = [DiagramNode("k-2", "c_{k-2}", group="input"), DiagramNode("k-1", "c_{k-1}", group="input")]
    nodes += [DiagramNode(str(i), str(i)) for i in range(4)]
    nodes.append(DiagramNode("out", "c_{k}", group="output"))
    picks = (("k-2", "k-1"), ("k-1", "0"), ("k-2", "1"), ("0", "2"))
    edges = [DiagramEdge(src, str(i), OPS[(i + j) % 4]) for i, pair in enumerate(picks)
             for j, src in enumerate(pair)]
    edges += [DiagramEdge(str(i), "out") for i in range(4)]
    return Diagram("dag", title, tuple(nodes), tuple(edges))


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return abs(ax - bx) * 2 < aw + bw and abs(ay - by) * 2 < ah + bh


def _rect(b: Box) -> tuple[float, float, float, float]:
    return b.x, b.y, b.w, b.h


def test_dag_layers_by_longest_path_and_nothing_overlaps() -> None:
    (panel,) = layout(darts_like_cell())
    x = {b.id: b.x for b in panel.boxes}
    assert x["k-2"] == x["k-1"] < x["0"] < x["1"] < x["2"] < x["3"] < x["out"]
    assert not any(_overlap(_rect(a), _rect(b)) for a, b in itertools.combinations(panel.boxes, 2))
    labels = [(*r.label_at, 0.6, 0.1) for r in panel.routes if r.label_at]
    assert len(labels) == 8
    assert not any(_overlap(a, b) for a, b in itertools.combinations(labels, 2))
    boxes = {b.id: b for b in panel.boxes}
    for e, r in zip(darts_like_cell().edges, panel.routes, strict=True):
        src, dst = boxes[e.src], boxes[e.dst]
        assert r.points[0][0] == pytest.approx(src.x + src.w / 2)
        assert r.points[-1][0] == pytest.approx(dst.x - dst.w / 2)
        assert src.y - src.h / 2 <= r.points[0][1] <= src.y + src.h / 2


def test_long_edges_do_not_cross_boxes() -> None:
    (panel,) = layout(darts_like_cell())
    for r in panel.routes:
        for (x0, y0), (x1, y1) in itertools.pairwise(r.points[1:-1]):
            if y0 == y1:  # a pass-through slot
                for b in panel.boxes:
                    inside_x = b.x - b.w / 2 < (x0 + x1) / 2 < b.x + b.w / 2
                    assert not (inside_x and abs(y0 - b.y) < b.h / 2)


def test_strip_wraps_into_rows() -> None:
    nodes = tuple(DiagramNode(f"b{i}", f"block {i}\nout_ch={16 * i}") for i in range(30))
    edges = tuple(DiagramEdge(a.id, b.id) for a, b in itertools.pairwise(nodes))
    (panel,) = layout(Diagram("strip", "chain", nodes, edges))
    rows = sorted({b.y for b in panel.boxes}, reverse=True)
    assert len(rows) > 1 and panel.width < 16
    firsts = [min((b for b in panel.boxes if b.y == y), key=lambda b: b.x) for y in rows]
    assert [int(b.id[1:]) for b in firsts] == sorted(int(b.id[1:]) for b in firsts)
    assert sum(len(r.points) == 4 for r in panel.routes) == len(rows) - 1  # one elbow per wrap


def test_lattice_grid_covers_the_path() -> None:
    path = [(0, 0), (1, 1), (2, 1), (3, 2)]
    nodes = tuple(DiagramNode(f"n{i}", f"{4 * 2**lvl}x", pos=p) for i, (p, lvl) in
                  enumerate(zip(path, (0, 1, 1, 2), strict=True)))
    edges = tuple(DiagramEdge(a.id, b.id) for a, b in itertools.pairwise(nodes))
    (panel,) = layout(Diagram("lattice", "network level", nodes, edges))
    assert len(panel.grid) == 4 * 3
    assert panel.highlight == {n.id for n in nodes}
    y = {b.id: b.y for b in panel.boxes}
    assert y["n3"] < y["n1"] == y["n2"] < y["n0"]  # deeper levels are drawn lower


def test_panels_come_in_order_with_their_titles() -> None:
    d = Diagram("dag", "darts", (), (), (darts_like_cell("normal"), darts_like_cell("reduce")))
    assert [p.title for p in layout(d)] == ["normal", "reduce"]


def test_bad_diagrams_raise() -> None:
    node = DiagramNode("a", "a")
    with pytest.raises(ValueError, match="kind"):
        layout(Diagram("spiral", "x", (node,)))
    with pytest.raises(ValueError, match="unknown node"):
        layout(Diagram("dag", "x", (node,), (DiagramEdge("a", "b"),)))
    with pytest.raises(ValueError, match="pos"):
        layout(Diagram("lattice", "x", (node,)))


def test_cycle_does_not_hang() -> None:
    nodes = tuple(DiagramNode(i, i) for i in "abc")
    edges = (DiagramEdge("a", "b"), DiagramEdge("b", "c"), DiagramEdge("c", "b"))
    (panel,) = layout(Diagram("dag", "loop", nodes, edges))
    assert isinstance(panel, Panel) and len(panel.routes) == 3


@pytest.mark.parametrize("diagram", [
    Diagram("dag", "two cells", (), (), (darts_like_cell("normal"), darts_like_cell("reduce"))),
    Diagram("lattice", "path", tuple(DiagramNode(f"n{i}", "", pos=(i, i % 2)) for i in range(3)),
            (DiagramEdge("n0", "n1"), DiagramEdge("n1", "n2"))),
], ids=["panels", "lattice"])
def test_draw_writes_png(diagram: Diagram, tmp_path: Path) -> None:
    out = draw_diagram(diagram, tmp_path / "d.png")
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 2000


def test_importing_cli_and_plots_loads_neither_matplotlib_nor_torch() -> None:
    code = ("import sys, archspace.cli, archspace.plots; "
            "print(sorted(m for m in ('matplotlib', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_fit_ordered_keeps_order_and_gaps() -> None:
    from archspace.plots._dag import _fit_ordered

    assert _fit_ordered([3.0, 1.0, -2.0], [1.0, 1.0]) == [3.0, 1.0, -2.0]  # already feasible
    y = _fit_ordered([0.0, 0.0, 0.0], [1.0, 1.0])  # all want the same height: spread evenly
    assert y == pytest.approx([1.0, 0.0, -1.0])
    y = _fit_ordered([0.0, 5.0], [0.5])  # wrong order: meet in the middle, one gap apart
    assert y == pytest.approx([2.75, 2.25])


def test_long_titles_wrap() -> None:
    from archspace.plots.draw import _wrap

    title = "nb201: " + "|nor_conv_3x3~0|+" * 12
    lines = _wrap(title, 6.0).split("\n")
    assert len(lines) > 1 and "".join(lines).replace(" ", "") == title.replace(" ", "")
    assert _wrap("short", 6.0) == "short"


def _labels(diagram: Diagram) -> list[str]:
    return [n.label for n in diagram.nodes]


def test_mobilenetv2_draws_short_labels_like_mcunet() -> None:
    from archspace.spaces import get_space

    mnv2 = get_space("mobilenetv2")
    labels = _labels(mnv2.diagram(mnv2.named_archs()["mobilenetv2"]))
    assert labels[0] == "Conv 3x3\n32 s2" and labels[1] == "MB1 k3\n16"
    assert labels[2] == "MB6 k3\n24 s2" and labels[3] == "MB6 k3\n24"
    assert labels[-2:] == ["Conv 1x1\n1280", "Pool, FC\n1000"]
    assert not any("=" in t for t in labels)  # no field dumps (se_gate=, skip=, act=)
    mcunet = get_space("mcunet")
    groups = {n.group for n in mnv2.diagram(mnv2.sample(0)).nodes}
    assert {"MB3", "MB6"} <= groups  # coloured by op, as mcunet's chain
    assert all(t.count("\n") == 1 for t in _labels(mcunet.diagram(mcunet.sample(0))) + labels)


def test_generic_chain_labels_leave_out_fields_that_do_not_apply() -> None:
    from archspace.ir.blocks import ClassifierHead, MBConv
    from archspace.space.base import _block_label

    plain = _block_label(MBConv(24, 3, 6, stride=2))
    assert "se_gate" not in plain and "skip" not in plain and "stride=2" in plain
    assert "skip=True" in _block_label(MBConv(24, 3, 6, stride=1))
    assert "se_gate=sigmoid" in _block_label(MBConv(24, 3, 6, se_ratio=0.25))
    assert _block_label(ClassifierHead(10)) == "ClassifierHead\nnum_classes=10"
