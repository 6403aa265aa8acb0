"""KNN matting (Chen et al., 2013): alpha for a trimap's unknown pixels, solved on scipy.

Each pixel is linked to its nearest neighbours in colour-and-position space, so a strand far
from the known region still finds the colour of other strands; alpha is the harmonic solution
of the graph Laplacian with the known pixels held fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from alphacut.pipeline.matting_params import MattingParams

# Points per KNN query: bounds the query's scratch arrays to a few MB.
KNN_QUERY_CHUNK = 8192


def nearest_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` int32 indices of each point's ``k`` nearest other points."""
    from scipy.spatial import cKDTree

    tree = cKDTree(features)
    # Queried in chunks so the float64 distances (discarded) never exist for all points at
    # once; k + 1 because every point is its own nearest neighbour.
    chunks = [
        tree.query(features[start : start + KNN_QUERY_CHUNK], k=k + 1, workers=-1)[1]
        for start in range(0, len(features), KNN_QUERY_CHUNK)
    ]
    return np.concatenate([chunk[:, 1:].astype(np.int32) for chunk in chunks])


def knn_alpha(
    image: np.ndarray,
    trimap: np.ndarray,
    params: MattingParams,
    also_known: np.ndarray | None = None,
) -> np.ndarray | None:
    """KNN matting: alpha for the trimap's unknown pixels, known pixels held at their values.

    The graph holds the unknown pixels, the known ones within ``knn_reach`` of them and any
    known pixels marked in ``also_known``; each is joined to its nearest neighbours in
    (colour, weighted position) space, once per entry of ``knn_neighbours``. With the
    symmetric graph Laplacian ``L = D - W`` split into unknown (u) and known (k) parts,
    ``L_uu a_u = -L_uk a_k`` -- every unknown alpha is the mean of its neighbours' -- is
    solved by Jacobi-preconditioned conjugate gradients. Returns ``None`` when no known
    foreground or background is in reach, or the solve does not converge.
    """
    import scipy.sparse
    import scipy.sparse.linalg
    from threadpoolctl import threadpool_limits

    unknown = trimap == 0.5
    long_side = max(trimap.shape)
    reach = max(2.0, params.knn_reach * long_side)
    nodes = ndimage.distance_transform_edt(~unknown) <= reach
    if also_known is not None:
        nodes |= also_known & ~unknown
    ys, xs = np.nonzero(nodes)
    values = trimap[ys, xs].astype(np.float64)
    is_unknown = values == 0.5
    if not ((values == 1.0).any() and (values == 0.0).any()):
        return None
    count = ys.size
    colour = image[ys, xs].astype(np.float32)
    position = np.stack([xs, ys], axis=1).astype(np.float32) / long_side
    links = []
    for neighbours, spatial in zip(params.knn_neighbours, params.knn_spatial, strict=True):
        features = np.concatenate([colour, position * spatial], axis=1)
        links.append(nearest_neighbours(features, min(neighbours, count - 1)))
    # Row i of the directed graph holds i's neighbours from every pass, so it is built as CSR
    # directly (no sort); adding its transpose makes it symmetric.
    neighbours_of = np.concatenate(links, axis=1)
    del links
    per_row = neighbours_of.shape[1]
    directed = scipy.sparse.csr_matrix(
        (
            np.ones(neighbours_of.size, dtype=np.float32),
            neighbours_of.ravel(),
            np.arange(0, count * per_row + 1, per_row),
        ),
        shape=(count, count),
    )
    del neighbours_of
    weights = (directed + directed.T).tocsr()
    del directed
    degree = np.asarray(weights.sum(axis=1), dtype=np.float64).ravel()
    # L = D - W restricted to the unknown rows: L_uu = D_u - W_uu and -L_uk = W_uk.
    unknown_rows = weights[is_unknown]
    del weights
    system = (
        scipy.sparse.diags(degree[is_unknown]) - unknown_rows[:, is_unknown].astype(np.float64)
    ).tocsr()
    rhs = unknown_rows[:, ~is_unknown] @ values[~is_unknown]
    del unknown_rows
    # The vectors hold a few thousand entries: BLAS threads cannot speed their dot products
    # up, and OpenBLAS's idle threads spin between the hundreds of calls, which measured ten
    # times the solve's own CPU time when the cores were busy (as they are when the next
    # photo is decoding or inferring).
    with threadpool_limits(limits=1, user_api="blas"):
        solution, info = scipy.sparse.linalg.cg(
            system,
            rhs,
            x0=np.full(int(is_unknown.sum()), 0.5),
            M=scipy.sparse.diags(1.0 / np.maximum(system.diagonal(), 1e-12)),
            rtol=params.cg_tol,
            maxiter=params.cg_maxiter,
        )
    if info != 0:
        return None
    alpha = trimap.astype(np.float32)
    alpha[ys[is_unknown], xs[is_unknown]] = np.clip(solution, 0.0, 1.0)
    return alpha
