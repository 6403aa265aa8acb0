"""Where matting may act: the parts of the mask's unsure band that colour can settle.

Matting re-solves alpha from the photo's colours. That helps where the model saw detail
finer than its own resolution (hair, fur, a soft edge) next to a part it is sure of, and the
photo separates the subject's colours from the background's there. It hurts where the model
is unsure for another reason -- which of two similar-looking regions is the subject -- because
the solve then hardens a guess into confident, wrong alpha. So the band is cut into square
regions and each is judged on its own, from the mask and the photo:

* **Soft detail.** A hard edge the model got right leaves a transition from confident
  background to confident foreground no wider than the band the trimap puts around every
  outline (``band_cells`` either side); at the model's own scale there is nothing there for
  matting to find. A region counts as soft when most of its soft pixels lie further than
  that from the mask's 0.5 contour.
* **A confident core beside it.** Matting propagates alpha from known pixels, so the region
  (with a margin of half a region) must hold pixels the model is sure are foreground and
  pixels it is sure are background.
* **Colour that separates them.** The compositing equation ``I = a F + (1 - a) B`` pins
  ``a`` down only when ``F`` and ``B`` differ by more than the colour spread inside each: the
  Fisher ratio of the known foreground against the known background colours near the
  region must be at least 1 (class means further apart than their pooled spread).

Everything else keeps the model's mask. When no region qualifies, the solve is skipped and the
result is exactly ``--refine none``'s, at its cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from alphacut.pipeline.trimap import outline

# Regions are squares of this share of the working image's long side (32 px at 384): large
# enough to hold both known sides of a hair fringe, small enough that one image can be
# refined along its hair and left alone where it hesitates over a whole area.
REGION_SHARE = 1 / 12
# Known pixels of each side a region's window must hold to judge its colours.
MIN_KNOWN = 8
# How far (in region sides) around a region its confident neighbours are looked for: half a
# region first, so that a region's own surroundings describe it, then one more region, so
# that a wide fringe whose middle lies a region away from both sides is still judged.
MARGINS: tuple[float, ...] = (0.5, 1.0)


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for one image: which regions matting may re-solve, and why."""

    refine: np.ndarray  # bool, working size: unknown pixels the solve may change
    regions: int  # regions of the band considered
    accepted: int  # regions handed to the solver
    hard_edged: int  # regions whose band is no wider than a plain edge's
    one_sided: int  # regions without confident foreground and background beside them
    inseparable: int  # regions where the two sides' colours overlap
    reason: str = ""  # why nothing was judged, when the image was skipped whole
    see_through: int = 0  # confident-foreground pixels added to the solve (see_through.py)
    fringe: np.ndarray | None = None  # bool: the part of ``refine`` in regions judged soft

    @classmethod
    def skipped(cls, shape: tuple[int, ...], reason: str) -> GateDecision:
        """A decision that hands nothing to the solver, for ``reason``."""
        return cls(np.zeros(shape, dtype=bool), 0, 0, 0, 0, 0, reason)

    @property
    def solve(self) -> bool:
        """Whether any region is worth a solve."""
        return self.accepted > 0

    def summary(self) -> str:
        """One line for logs and benchmarks, e.g. ``matting 3/9 regions``."""
        if self.reason:
            return f"skipped: {self.reason}"
        if not self.regions:
            return "skipped: no unsure band"
        if not self.accepted:
            return (
                f"skipped: {self.hard_edged} hard-edged, {self.one_sided} one-sided, "
                f"{self.inseparable} inseparable of {self.regions} regions"
            )
        text = f"matting {self.accepted}/{self.regions} regions"
        return f"{text}, {self.see_through} px seen through" if self.see_through else text


def fisher_ratio(foreground: np.ndarray, background: np.ndarray) -> float:
    """``|mean_f - mean_b|^2 / (var_f + var_b)`` over ``(n, 3)`` colour samples."""
    gap = foreground.mean(axis=0) - background.mean(axis=0)
    spread = foreground.var(axis=0).sum() + background.var(axis=0).sum()
    return float(gap @ gap / max(spread, 1e-6))


def _sides(
    image: np.ndarray, sure_fg: np.ndarray, sure_bg: np.ndarray, y: int, x: int, size: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Colours of the confident foreground and background around a region, if both are there."""
    for reach in MARGINS:
        pad = round(size * reach)
        window = (
            slice(max(0, y - pad), y + size + pad),
            slice(max(0, x - pad), x + size + pad),
        )
        fg, bg = image[window][sure_fg[window]], image[window][sure_bg[window]]
        if len(fg) >= MIN_KNOWN and len(bg) >= MIN_KNOWN:
            return fg, bg
    return None


def gate_regions(
    image: np.ndarray,
    mask: np.ndarray,
    unknown: np.ndarray,
    *,
    cell: float,
    band_cells: float,
    low: float,
    high: float,
) -> GateDecision:
    """Judge each region of the ``unknown`` band (all arrays at the working size).

    ``cell`` is one model-output pixel in working pixels; ``low``/``high`` are the trimap's
    confident background and foreground levels. Once a soft region is accepted, hard-edged
    ones with both sides present and separable colours ride along: the solve is paid for,
    and on a photo with detail beyond the mask's resolution their edges sharpen too.
    """
    refine = np.zeros_like(unknown)
    if not unknown.any():
        return GateDecision(refine, 0, 0, 0, 0, 0)
    sure_fg, sure_bg = mask >= high, mask <= low
    soft = ~(sure_fg | sure_bg)
    if not (sure_fg.any() and sure_bg.any()):
        regions = count_regions(unknown, region_size(mask.shape))
        return GateDecision(refine, regions, 0, 0, regions, 0)
    # How far (in mask cells) each pixel lies from the mask's 0.5 contour. A plain edge's
    # soft pixels all lie inside the band the trimap draws around any outline (band_cells);
    # a fringe's reach beyond it.
    from_outline = ndimage.distance_transform_edt(~outline(mask >= 0.5)) / cell
    size = region_size(mask.shape)
    verdicts: dict[str, list[tuple[int, int]]] = {
        "soft": [], "edge": [], "hard": [], "one_sided": [], "inseparable": []
    }
    for y in range(0, mask.shape[0], size):
        for x in range(0, mask.shape[1], size):
            here = unknown[y : y + size, x : x + size]
            if not here.any():
                continue
            away = from_outline[y : y + size, x : x + size][soft[y : y + size, x : x + size]]
            hard = away.size == 0 or float(np.median(away)) <= band_cells
            sides = _sides(image, sure_fg, sure_bg, y, x, size)
            if sides is None:
                verdict = "hard" if hard else "one_sided"
            elif fisher_ratio(*sides) < 1.0:
                verdict = "hard" if hard else "inseparable"
            else:
                verdict = "edge" if hard else "soft"
            verdicts[verdict].append((y, x))
    accepted = list(verdicts["soft"])
    if accepted:
        accepted += verdicts["edge"]
    fringe = np.zeros_like(unknown)
    for y, x in verdicts["soft"]:
        fringe[y : y + size, x : x + size] = unknown[y : y + size, x : x + size]
    for y, x in accepted:
        refine[y : y + size, x : x + size] = unknown[y : y + size, x : x + size]
    regions = sum(len(found) for found in verdicts.values())
    return GateDecision(
        refine,
        regions,
        len(accepted),
        regions - len(accepted) - len(verdicts["one_sided"]) - len(verdicts["inseparable"]),
        len(verdicts["one_sided"]),
        len(verdicts["inseparable"]),
        fringe=fringe,
    )


def region_size(shape: tuple[int, ...]) -> int:
    """Side of a gate region in working pixels."""
    return max(8, round(max(shape) * REGION_SHARE))


def count_regions(unknown: np.ndarray, size: int) -> int:
    """How many ``size``-square regions hold at least one unknown pixel."""
    height, width = unknown.shape
    rows, cols = -(-height // size), -(-width // size)
    padded = np.zeros((rows * size, cols * size), dtype=bool)
    padded[:height, :width] = unknown
    return int(padded.reshape(rows, size, cols, size).any(axis=(1, 3)).sum())
