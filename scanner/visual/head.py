"""A small linear head fitted on the reference embeddings at enrolment (numpy only, no user-run training).

One-vs-rest L2-regularised logistic regression per restricted label (that label's references against
every other reference: allowed ones and the other labels), class-balanced, solved by Newton's method
in the dual (n x n systems, n = number of references, so 1280-d features cost nothing extra).

Calibration (`loo_scores` + `threshold_from`): every reference is scored by a head fitted without it
(leave-one-out; k-fold when the gallery is large). The decision threshold is set just above the
highest left-out score any *negative* reference got: by default one global threshold over all labels
(pooling the negatives of every label gives a safer tail estimate than 10-30 per label), or one per label.
Measured on the dev corpus in docs/visual.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LOO = 120  # above this many references, calibrate by K-fold instead of leave-one-out
FOLDS = 10
NEWTON_STEPS = 10
EPS = 1e-3  # a threshold sits this far above the best negative score


@dataclass(frozen=True, slots=True)
class Head:
    """(D+1, L) weights: the last row is the bias; score = [x, 1] @ weights."""

    weights: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(N, D) unit features -> (N, L) logits."""
        if len(x) == 0:
            return np.zeros((0, self.weights.shape[1]), np.float64)
        out: np.ndarray = x.astype(np.float64) @ self.weights[:-1] + self.weights[-1]
        return out


def fit_head(x: np.ndarray, label_of: np.ndarray, n_labels: int, lam: float = 1.0) -> Head:
    """x: (n, D) features; label_of: (n,) label index or -1 (allowed). Labels without samples get -inf bias."""
    n = len(x)
    xa = np.concatenate([x.astype(np.float64), np.ones((n, 1))], axis=1)
    kernel = xa @ xa.T
    cols = []
    for li in range(n_labels):
        t = np.where(label_of == li, 1.0, -1.0)
        npos = int((t > 0).sum())
        if npos == 0 or npos == n:
            w = np.zeros(xa.shape[1])
            w[-1] = -np.inf if npos == 0 else np.inf
            cols.append(w)
            continue
        cw = np.where(t > 0, n / (2.0 * npos), n / (2.0 * (n - npos)))
        alpha = np.zeros(n)
        for _ in range(NEWTON_STEPS):
            f = kernel @ alpha
            s = 1.0 / (1.0 + np.exp(np.clip(t * f, -50, 50)))  # sigma(-t f)
            grad = -t * s * cw + lam * alpha
            hess = (s * (1.0 - s) * cw)[:, None] * kernel + lam * np.eye(n)
            alpha = alpha - np.linalg.solve(hess, grad)
        cols.append(xa.T @ alpha)
    return Head(np.stack(cols, axis=1) if cols else np.zeros((xa.shape[1], 0)))


def loo_scores(x: np.ndarray, label_of: np.ndarray, n_labels: int, lam: float = 1.0) -> np.ndarray:
    """(n, L): each reference scored by a head fitted without it (K folds when n > MAX_LOO)."""
    n = len(x)
    out = np.full((n, n_labels), -np.inf)
    if n < 2:
        return out
    folds = np.arange(n) if n <= MAX_LOO else np.arange(n) % FOLDS
    for f in np.unique(folds):
        held = folds == f
        head = fit_head(x[~held], label_of[~held], n_labels, lam)
        out[held] = head.scores(x[held])
    return out


def threshold_from(scores: np.ndarray, label_of: np.ndarray, per_label: bool) -> np.ndarray:
    """Per-label thresholds just above the best left-out negative score (global max unless per_label)."""
    n_labels = scores.shape[1]
    best = np.full(n_labels, -np.inf)
    for li in range(n_labels):
        neg = scores[label_of != li, li]
        neg = neg[np.isfinite(neg)]
        if neg.size:
            best[li] = float(neg.max())
    if not per_label:
        finite = best[np.isfinite(best)]
        best[:] = float(finite.max()) if finite.size else 0.0
    best[~np.isfinite(best)] = 0.0
    thr: np.ndarray = best + EPS
    return thr
