"""Confident foreground that is really background seen through a sparse fringe.

The model works at a fixed low resolution, so where hair is sparse over a contrasting
backdrop it often calls part of the fringe solid: those pixels sit above the trimap's
foreground level, outside the unknown band, and the solve never sees them. Their colour gives
them away. A pixel inside a fringe mixes strand and backdrop, ``I = a F + (1 - a) B``; once
the backdrop shows through more than the strands cover it (``a < 1/2``), its colour lies
nearer to the backdrop's than to the subject's. Colour alone cannot tell that from a part of
the subject that happens to look like the backdrop (a pale chest against pale straw), so the
rule keeps to what a missed fringe looks like:

* **Beside a fringe the model saw.** It starts only from regions the gate accepted as soft
  detail (a fringe the model called soft), not from plain edges, and reaches one gate region
  into the confident foreground: the gate judged that colour separates the two sides at that
  scale. Images the gate skipped, and pixels further off, never change.
* **The subject's colours from its core, under any light.** The subject is described by the
  confident foreground at least one region from the band, where no fringe reaches (inside a
  fringe the model's "foreground" already holds backdrop colours), and a pixel counts as
  subject-coloured by its distance to the nearest *ray* from black through a core colour:
  shading scales a surface's colour, so the subject's own shadows and dark details (eyes,
  seams) are explained by the subject however dark they are. The backdrop is described by
  the confident background around the region, sample by sample (sky, sand and leaves are
  rarely one colour).
* **Gaps, not parts.** Backdrop seen through a fringe continues the backdrop, so a patch of
  such pixels must touch the band or the confident background; and it must be narrower than
  the model can resolve -- no pixel deeper inside it than the half-width of the band the
  trimap draws around every outline (``band_cells`` mask cells). A wider patch is something
  the model saw and judged to be subject.

The backdrop samples that testified for a pixel join the solve with it (matting.py), so that
the solve can give it the backdrop's alpha.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Samples of each side a window must hold before its colours are trusted (as in the gate).
MIN_SAMPLES = 8


def distance_to_rays(colours: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """Each colour's distance to the nearest ray from black through a ``surface`` colour.

    That is ``|I| sin(angle)`` to the surface colour at the smallest angle: the distance to
    the nearest colour the surface takes under brighter or dimmer light. Black lies on every
    ray (distance 0).
    """
    from scipy.spatial import cKDTree

    def directions(values: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(values, axis=1, keepdims=True)
        return values / np.maximum(norms, 1e-6)

    # The nearest unit vector (chord length c) is the one at the smallest angle:
    # cos = 1 - c^2 / 2.
    chord = cKDTree(directions(surface)).query(directions(colours), k=1)[0]
    cosine = np.clip(1.0 - chord**2 / 2.0, -1.0, 1.0)
    return np.linalg.norm(colours, axis=1) * np.sqrt(1.0 - cosine**2)


def see_through(
    image: np.ndarray,
    mask: np.ndarray,
    unknown: np.ndarray,
    fringe: np.ndarray,
    *,
    size: int,
    thin: float,
    low: float,
    high: float,
) -> np.ndarray:
    """Confident-foreground pixels near ``fringe`` whose colour is the backdrop showing through.

    All arrays share the working size: ``image`` (h, w, 3) colours, ``mask`` the model's
    values, ``unknown`` the trimap's band, ``fringe`` the band pixels of the regions the gate
    accepted as soft detail. ``size`` is the gate's region side (the rule's reach), ``thin``
    the widest half-width (working pixels) of a patch the model could not have resolved;
    ``low``/``high`` the confident background and foreground levels. Returns a boolean map of
    the pixels to add to the solve.
    """
    from scipy.spatial import cKDTree

    found = np.zeros_like(fringe)
    if not fringe.any():
        return found
    solid = (mask >= high) & ~unknown
    candidates = solid & (ndimage.distance_transform_edt(~fringe) <= size)
    if not candidates.any():
        return found
    core = solid & (ndimage.distance_transform_edt(~unknown) > size)
    backdrop = mask <= low
    height, width = mask.shape
    for y in range(0, height, size):
        for x in range(0, width, size):
            here = candidates[y : y + size, x : x + size]
            if not here.any():
                continue
            window = (
                slice(max(0, y - size), y + 2 * size),
                slice(max(0, x - size), x + 2 * size),
            )
            subject, behind = image[window][core[window]], image[window][backdrop[window]]
            if len(subject) < MIN_SAMPLES or len(behind) < MIN_SAMPLES:
                continue
            colours = image[y : y + size, x : x + size][here]
            verdict = np.zeros_like(here)
            verdict[here] = (
                cKDTree(behind).query(colours, k=1)[0] < distance_to_rays(colours, subject)
            )
            found[y : y + size, x : x + size] |= verdict
    if not found.any():
        return found
    patches, count = ndimage.label(found)
    # Patches that touch the band or the confident background...
    touching = np.zeros(count + 1, dtype=bool)
    touching[patches[found & ndimage.binary_dilation(unknown | backdrop)]] = True
    # ...and are no deeper than ``thin`` anywhere (every pixel within ``thin`` of the patch's
    # edge): gaps between strands, not a part of the subject the model saw.
    depth = ndimage.maximum(
        ndimage.distance_transform_edt(found), patches, index=np.arange(1, count + 1)
    )
    shallow = np.concatenate([[False], np.asarray(depth) <= thin])
    touching[0] = False
    return (touching & shallow)[patches]
