"""simulate run's timeline.png: arrivals binned per second, legends beside the data."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from functions.scaling.plot import arrival_rate, draw
from functions.scaling.simulate import Result


def test_arrivals_are_counted_from_the_row_before() -> None:
    """Row i holds the arrivals since row i-1 (simulate.py): 4 at t=0, 2 in (0, 1], 6 in (1, 2]."""
    edges, rates = arrival_rate([0.0, 1.0, 2.0, 3.0], [4, 2, 6, 0])
    assert edges == [0.0, 1.0, 2.0, 3.0]
    assert rates == [6.0, 6.0, 0.0, 0.0]  # bin [0,1): 4 + 2; [1,2): 6; and the last repeated


def test_a_long_run_has_wider_bins_and_the_same_total() -> None:
    t = [float(i) for i in range(1001)]
    edges, rates = arrival_rate(t, [1] * 1001)
    width = edges[1] - edges[0]
    assert width == 4.0  # at most 300 bins
    assert sum(r * width for r in rates[:-1]) == pytest.approx(1001)


def test_the_legends_never_cover_the_data() -> None:
    rows = [(float(t), t % 3, 50 - t, 2, min(t, 20), min(t, 18), 1) for t in range(40)]
    figure = draw(Result({}, rows, []), "title")
    assert isinstance(figure, Figure)
    figure.canvas.draw()
    for ax in figure.axes:
        legend = ax.get_legend()
        assert legend is not None
        box = legend.get_window_extent().transformed(ax.transAxes.inverted())
        assert box.x0 >= 1.0
        assert ax.get_ylim()[0] == 0
