"""Which backbone features separate the restricted labels? (the feature levers of docs/visual.md)

Same protocol as bench_visual.py (restricted: serverroom, lab, prototype; allowed: indoor; outsiders:
photo + face; leave-one-out with the head refitted and the global threshold recalibrated without the
left-out photo; the head's score rule alone, without the gallery's zero floor and nearest-reference
guard), but over features the product does not use: intermediate EfficientNet-Lite blocks
(mean and std pooled), GeM and max pooling of the last feature map, a 1.5x larger input, an HSV
colour histogram, and a label-agnostic head ("restricted" vs the rest). Besides recall and false
matches it prints two ceilings that no threshold rule can beat: `top1`, left-out restricted photos
whose own label has the highest head score (not for the one-column binary head), and `oracle`, those
whose own-label score also beats every negative score (indoor left out, photo/face outsiders), i.e.
the recall at 0 false matches with the threshold picked on the test scores. Takes about 2 minutes on 2 cores.

    .venv/bin/python benchmarks/bench_visual_features.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import default_corpus
from bench_visual import load_labelled

from scanner.engines.embedder import MODELS, weights_path
from scanner.visual.head import fit_head, loo_scores, threshold_from

Features = dict[str, np.ndarray]


def block_features(model: str, side: int, images: list[Any]) -> Features:
    """Pooled outputs of the last blocks and the head conv of efficientnet-<model> at input `side`."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    net = EfficientNet.from_name(f"efficientnet-{model}")
    net.load_state_dict(torch.load(str(weights_path(model)), map_location="cpu", weights_only=True))
    net.eval()
    last = len(net._blocks) - 1
    taps = {last - 5: "mid", last - 1: "late"}
    rows: list[dict[str, np.ndarray]] = []
    for im in images:
        arr = np.asarray(im.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0), np.float32) / 255
        x = (torch.from_numpy(arr).permute(2, 0, 1)[None] - 0.5) / 0.5
        out = {}
        with torch.inference_mode():
            h = net._swish(net._bn0(net._conv_stem(x)))
            for i, block in enumerate(net._blocks):
                h = block(h)
                if i in taps:
                    out[f"{taps[i]}_mean"], out[f"{taps[i]}_std"] = h.mean(dim=(2, 3)), h.std(dim=(2, 3))
            f = net._swish(net._bn1(net._conv_head(h)))
            out["mean"], out["max"] = f.mean(dim=(2, 3)), f.amax(dim=(2, 3))
            out["gem"] = f.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)
        rows.append({k: v.numpy()[0] for k, v in out.items()})
    return {f"{model}@{side}/{k}": np.stack([r[k] for r in rows]) for k in rows[0]}


def colour_hist(images: list[Any]) -> np.ndarray:
    """8 hue x 4 saturation x 4 value bins, square-rooted (Hellinger)."""
    out = []
    for im in images:
        a = np.asarray(im.convert("HSV").resize((128, 128)))
        idx = (a[..., 0] // 32) * 16 + (a[..., 1] // 64) * 4 + a[..., 2] // 64
        hist = np.bincount(idx.ravel(), minlength=128).astype(np.float64)
        out.append(np.sqrt(hist / hist.sum()))
    return np.stack(out)


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return out


class Bench:
    def __init__(self, feats: Features, label_of: np.ndarray, labels: tuple[str, ...], n_refs: int) -> None:
        self.feats, self.label_of, self.labels, self.n_refs = feats, label_of, labels, n_refs

    def build(self, parts: list[str]) -> np.ndarray:
        return unit(np.concatenate([unit(self.feats[p].astype(np.float64)) for p in parts], axis=1))

    def run(self, parts: list[str], binary: bool = False) -> str:
        x = self.build(parts)
        refs, outs, n = x[: self.n_refs], x[self.n_refs :], self.n_refs
        lab = np.where(self.label_of >= 0, 0, -1) if binary else self.label_of
        n_lab = 1 if binary else len(self.labels)
        hits = dict.fromkeys(self.labels, 0)
        false_in, test = 0, np.zeros((n, n_lab))
        for i in range(n):
            keep = np.arange(n) != i
            head = fit_head(refs[keep], lab[keep], n_lab)
            thr = threshold_from(loo_scores(refs[keep], lab[keep], n_lab), lab[keep], per_label=False)
            test[i] = head.scores(refs[i : i + 1])[0]
            lead = test[i] - thr
            if lead.max() >= 0 and self.label_of[i] >= 0:
                own = 0 if binary else self.label_of[i]
                hits[self.labels[self.label_of[i]]] += int(int(lead.argmax()) == own)
            false_in += int(lead.max() >= 0 and self.label_of[i] < 0)
        head = fit_head(refs, lab, n_lab)
        thr = threshold_from(loo_scores(refs, lab, n_lab), lab, per_label=False)
        out_scores = head.scores(outs)
        false_out = int(((out_scores - thr) >= 0).any(axis=1).sum())
        pos = self.label_of >= 0
        own_col = np.zeros(n, int) if binary else np.maximum(self.label_of, 0)
        own = test[np.arange(n), own_col]
        top1 = pos & (test.argmax(axis=1) == own_col)
        worst_negative = max(float(test[~pos].max()), float(out_scores.max()))
        oracle = int((top1 & (own > worst_negative)).sum())
        per = "  ".join(f"{k} {v}" for k, v in hits.items())
        total = sum(hits.values())
        ceiling = f"oracle {oracle}" if binary else f"top1 {int(top1.sum())} oracle {oracle}"
        false = f"false: indoor {false_in} photo/face {false_out}"
        return f"{per}  | total {total}/{int(pos.sum())}  | {false}  | {ceiling}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(default_corpus()))
    args = ap.parse_args()
    loaded = load_labelled(Path(args.corpus))
    if loaded is None:
        return 0
    refs, paths, images, labels, label_of = loaded
    feats: Features = {"colour": colour_hist(images)}
    for model in ("lite0", "lite2"):
        side = MODELS[model][2]
        feats.update(block_features(model, side, images))
        feats.update(block_features(model, (side * 3 // 2) // 32 * 32, images))
    bench = Bench(feats, label_of, labels, len(refs))
    print(f"{len(refs)} references ({len(labels)} restricted labels + allowed), {len(paths) - len(refs)} outsiders")
    variants: list[tuple[str, list[str], bool]] = []
    for model in ("lite2", "lite0"):
        side = MODELS[model][2]
        big = (side * 3 // 2) // 32 * 32
        tag = f"{model}@{side}"
        for name in ("mean", "gem", "max", "late_mean", "mid_mean", "late_std"):
            variants.append((f"{tag} {name}", [f"{tag}/{name}"], False))
        variants.append((f"{model}@{big} mean", [f"{model}@{big}/mean"], False))
        variants.append((f"{tag} mean+late_mean", [f"{tag}/mean", f"{tag}/late_mean"], False))
        variants.append((f"{tag} mean+colour", [f"{tag}/mean", "colour"], False))
        variants.append((f"{tag} mean, binary head", [f"{tag}/mean"], True))
    variants.append(("colour histogram only", ["colour"], False))
    for name, parts, binary in variants:
        print(f"{name:<32} {bench.run(parts, binary)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
