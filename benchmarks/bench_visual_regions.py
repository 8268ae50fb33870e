"""Regional and multi-view matching of restricted places (issue 13 item 5), against the product's rule, one run.

Same protocol as bench_visual.py (restricted: serverroom, lab, prototype; allowed: indoor; outsiders:
photo + face; each reference left out in turn with the head refitted and its threshold recalibrated
without it; the head's score rule alone, as in bench_visual_features.py). Every picture is embedded
as 16 crops: the photo, its mirror, the centre 80%, four 65% corners (the gallery's VIEW_NAMES) and a
3x3 grid of half-size crops. Variants:

  head, full view                   the product's features (baseline, measured here)
  head, mean of 7 views / 16 crops  multi-crop pooled descriptor (references and queries alike)
  head, query expansion k=1         each picture averaged with its nearest reference (alpha 3)
  head, threshold from allowed      calibrated on the allowed references' scores only
  k-NN regional (Chamfer)           mean over the query's crops of the best crop similarity to a
                                    reference; a label's score is its best reference minus the best
                                    reference of any other label or allowed, one calibrated threshold
  k-NN global                       the same rule on the full view

`oracle` is the recall at 0 false matches with the threshold picked on the test scores (a ceiling).
Takes about 4 minutes on 2 shared cores.

    .venv/bin/python benchmarks/bench_visual_regions.py [--corpus DIR] [--models lite2,lite0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import default_corpus
from bench_visual import load_labelled

from scanner.config import Settings
from scanner.engines.embedder import build_embedder
from scanner.visual.head import fit_head, loo_scores, threshold_from
from scanner.visual.store import make_views

Threshold = Callable[[np.ndarray, np.ndarray, bool], np.ndarray]
EPS = 1e-3


def crops(picture: Any) -> list[Any]:
    """The 7 gallery views, then a 3x3 grid of half-size crops (stride a quarter)."""
    w, h = picture.size
    hw, hh = w // 2, h // 2
    grid = [picture.crop((i * (w - hw) // 2, j * (h - hh) // 2, i * (w - hw) // 2 + hw, j * (h - hh) // 2 + hh))
            for j in range(3) for i in range(3)]
    return make_views(picture) + grid


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return out


def allowed_only(scores: np.ndarray, label_of: np.ndarray, per_label: bool) -> np.ndarray:
    """One threshold just above the best left-out score of an allowed reference (other labels ignored)."""
    neg = scores[label_of < 0]
    out: np.ndarray = np.full(scores.shape[1], float(neg.max()) + EPS)
    return out


class Bench:
    def __init__(self, label_of: np.ndarray, labels: tuple[str, ...], n_refs: int) -> None:
        self.label_of, self.labels, self.n = label_of, labels, n_refs

    def result(self, test: np.ndarray, thr_test: np.ndarray, out: np.ndarray, thr_out: np.ndarray) -> str:
        """test (n, L) left-out scores with their (n, L) thresholds; out (K, L) outsider scores."""
        lo, pos = self.label_of, self.label_of >= 0
        lead = test - thr_test
        found = (lead.max(axis=1) >= 0) & (lead.argmax(axis=1) == lo)
        hits = {lab: int((found & (lo == li)).sum()) for li, lab in enumerate(self.labels)}
        false_in = int(((lead.max(axis=1) >= 0) & ~pos).sum())
        false_out = int(((out - thr_out) >= 0).any(axis=1).sum())
        own = test[np.arange(self.n), np.maximum(lo, 0)]
        top1 = pos & (test.argmax(axis=1) == lo)
        oracle = int((top1 & (own > max(float(test[~pos].max()), float(out.max())))).sum())
        per = "  ".join(f"{k} {v}" for k, v in hits.items())
        return (f"{per}  | total {sum(hits.values())}/{int(pos.sum())}  | false: indoor {false_in} "
                f"photo/face {false_out}  | top1 {int(top1.sum())} oracle {oracle}")

    def head(self, x: np.ndarray, threshold: Threshold = threshold_from) -> str:
        n, lo, nl = self.n, self.label_of, len(self.labels)
        test, thr_test = np.zeros((n, nl)), np.zeros((n, nl))
        for i in range(n):
            keep = np.arange(n) != i
            test[i] = fit_head(x[:n][keep], lo[keep], nl).scores(x[i : i + 1])[0]
            thr_test[i] = np.maximum(threshold(loo_scores(x[:n][keep], lo[keep], nl), lo[keep], False), 0.0)
        out = fit_head(x[:n], lo, nl).scores(x[n:])
        thr_out = np.maximum(threshold(loo_scores(x[:n], lo, nl), lo, False), 0.0)
        return self.result(test, thr_test, out, thr_out)

    def knn(self, sims: np.ndarray) -> str:
        """sims (N, n): every picture against every reference; own-label best minus best of the rest."""
        n, lo, nl = self.n, self.label_of, len(self.labels)

        def scores(rows: np.ndarray, usable: np.ndarray) -> np.ndarray:
            s = np.where(usable, rows, -np.inf)
            return np.stack([s[:, lo == li].max(axis=1) - s[:, lo != li].max(axis=1) for li in range(nl)], axis=1)

        def threshold(keep: np.ndarray) -> np.ndarray:
            idx = np.flatnonzero(keep)
            usable = np.tile(keep, (len(idx), 1))
            usable[np.arange(len(idx)), idx] = False
            return threshold_from(scores(sims[idx], usable), lo[idx], False)

        test, thr_test = np.zeros((n, nl)), np.zeros((n, nl))
        for i in range(n):
            keep = np.arange(n) != i
            test[i] = scores(sims[i : i + 1], keep[None])[0]
            thr_test[i] = threshold(keep)
        out = scores(sims[n:], np.ones((len(sims) - n, n), bool))
        return self.result(test, thr_test, out, threshold(np.ones(n, bool)))


def expand(x: np.ndarray, n: int, alpha: float = 3.0) -> np.ndarray:
    """Query expansion: each picture plus its nearest other reference, weighted by similarity**alpha."""
    sims = x @ x[:n].T
    sims[np.arange(n), np.arange(n)] = -np.inf
    nearest = sims.argmax(axis=1)
    w = np.maximum(sims[np.arange(len(x)), nearest], 0.0) ** alpha
    return unit(x + w[:, None] * x[:n][nearest])


def report(model: str, bench: Bench, f: np.ndarray, n: int) -> None:
    """One line per variant over f, the (N, 16, D) unit crop features (references first)."""
    full = f[:, 0]

    def chamfer(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.einsum("qid,rjd->qrij", x, x[:n], optimize=True).max(axis=3).mean(axis=2)
        return out

    rows: list[tuple[str, Callable[[], str]]] = [
        ("head, full view (product)", lambda: bench.head(full)),
        ("head, full + mirror mean", lambda: bench.head(unit(f[:, :2].mean(axis=1)))),
        ("head, mean of 7 views", lambda: bench.head(unit(f[:, :7].mean(axis=1)))),
        ("head, mean of 16 crops", lambda: bench.head(unit(f.mean(axis=1)))),
        ("head, query expansion k=1", lambda: bench.head(expand(full, n))),
        ("head, threshold from allowed only", lambda: bench.head(full, allowed_only)),
        ("head, 7 views, threshold from allowed", lambda: bench.head(unit(f[:, :7].mean(axis=1)), allowed_only)),
        ("k-NN global, contrast", lambda: bench.knn(full @ full[:n].T)),
        ("k-NN regional Chamfer, 16 crops", lambda: bench.knn(chamfer(f))),
        ("k-NN regional Chamfer, 3x3 grid", lambda: bench.knn(chamfer(f[:, 7:]))),
    ]
    for name, run in rows:
        print(f"{model} {name:<40} {run()}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(default_corpus()))
    ap.add_argument("--models", default="lite2,lite0")
    args = ap.parse_args()
    loaded = load_labelled(Path(args.corpus))
    if loaded is None:
        return 0
    refs, paths, pictures, labels, label_of = loaded
    bench, n = Bench(label_of, labels, len(refs)), len(refs)
    print(f"{n} references ({len(labels)} restricted labels + allowed), {len(paths) - n} outsiders")
    for model in args.models.split(","):
        embedder = build_embedder(Settings(device="cpu", sections={"visual": {"model": model}}))
        t0 = time.perf_counter()
        f = unit(np.stack([embedder.embed_arrays(np.stack([embedder.prepare(c) for c in crops(p)])).features
                           for p in pictures]).astype(np.float64))  # (N, 16, D)
        per_crop = 1000 * (time.perf_counter() - t0) / (16 * len(pictures))
        print(f"== {model} ({embedder.runtime}): {per_crop:.0f} ms per crop embedding, so a query costs 1x (full), "
              f"7x (views) or 16x (crops) that")
        report(model, bench, f, n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
