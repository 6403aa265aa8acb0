"""Settings of the ``matting`` refine mode, apart from the solver so both can import them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MattingParams:
    """Trimap and solver settings for the ``matting`` mode."""

    # Half-width of the unknown band around the mask's 0.5 contour, in mask cells (one
    # model-output pixel scaled to the working size): the zone upsampling left uncertain.
    band_cells: float = 2.0
    # Mask values at or below ``low`` are known background, at or above ``high`` known
    # foreground; values between are unknown. The foreground side is stricter (0.9, not 0.95)
    # because a region the model gives 0.9-0.95 is a solid part it is slightly unsure of
    # (a dark head against dark trees): left unknown, colour alone decides it and punches
    # holes. On the background side faint values are where stray hair lies, so 0.05 stays.
    low: float = 0.05
    high: float = 0.9
    # The solve runs at most at this long side. KNN matting measured better at lower
    # resolution (its neighbourhoods reach further across gaps between strands) while
    # hard-edged objects blur: matting-dev SAD/1000 9.65 / 9.41 / 9.36 at 512 / 384 / 320,
    # ecssd-dev MAE 0.0347 / 0.0355 / 0.0362 (ungated). 384 sits between, and keeps the
    # solve to a fraction of a second whatever the photo's size.
    solve_long_side: int = 384
    # "knn": KNN matting (Chen et al., 2013), see :mod:`alphacut.pipeline.knn_matting`.
    # "cf": closed-form matting (Levin et al., via pymatting), which propagates only through
    # 3x3 colour-line windows: matting-dev SAD/1000 10.35 at 512 against knn's 9.41.
    solver: Literal["knn", "cf"] = "knn"
    # KNN graph: neighbour counts and the weight of position against colour (positions in
    # units of the working image's long side, so the graph does not depend on where the band
    # lies), as in pymatting's knn_laplacian: 20 neighbours near in colour and place, then
    # 10 near in colour almost anywhere.
    knn_neighbours: tuple[int, ...] = (20, 10)
    knn_spatial: tuple[float, ...] = (2.0, 0.1)
    # Known pixels within this fraction of the long side of the band (at least 2 working
    # pixels; 0.005 is 2 px at 384) join the graph. Those touching the band carry its boundary
    # values; known pixels further off only give the colour-only pass (10 neighbours near in
    # colour almost anywhere) more distant look-alikes to pull a strand's alpha towards, and
    # each extra node costs neighbour queries. Measured, nearer was better all the way down:
    # matting-dev SAD/1000 ungated 9.67 / 9.52 / 9.46 / 9.41 / 9.35 at 0.1 / 0.05 / 0.03 /
    # 0.02 / 0.01; gated 9.735 / 9.657 / 9.614 at 0.02 / 0.01 / 0.005, with the solve's CPU
    # time on 12 camera photos down by a quarter from 0.02.
    knn_reach: float = 0.005
    laplacian_eps: float = 1e-7
    cg_maxiter: int = 500
    # Alpha is written with 8 bits: a relative residual of 1e-4 leaves the solution well
    # inside one grey level, and matting-dev SAD/1000 was the same (9.735) as at 1e-6 for
    # about two thirds of the iterations.
    cg_tol: float = 1e-4
    # Guided upsampling of the solved alpha (radius in solve-size pixels): a small window
    # and weak regularisation keep the solved detail.
    upsample_radius: int = 2
    upsample_eps: float = 1e-5
    # Judge the band region by region (matting_gate) and solve only where colour can settle
    # it; False re-solves the whole band, as before the gate.
    gated: bool = True
    # With the gate: also solve the confident foreground near accepted regions whose colour
    # is the backdrop's (sparse fringe the model called solid; see_through.py).
    see_through: bool = True

    def __post_init__(self) -> None:
        if self.solver not in ("cf", "knn"):
            raise ValueError(f"unknown matting solver {self.solver!r} (expected cf or knn)")
        if len(self.knn_neighbours) != len(self.knn_spatial):
            raise ValueError("knn_neighbours and knn_spatial need one entry per graph")


DEFAULT_MATTING = MattingParams()
