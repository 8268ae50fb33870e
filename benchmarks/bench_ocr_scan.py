"""Two whole scans of a corpus at once, before and after an OCR setting: CPU, decisions, time by stage.

    .venv/bin/python benchmarks/bench_ocr_scan.py [--corpus DIR] [--before K=V,...] [--after K=V,...] [--out DIR]

Runs `leakscan scan --format jsonl --jobs 1` twice in parallel (so the load of a shared machine
hits both alike), one with the `--before` environment (default `LEAKSCAN_OCR_DET_SIDE=0`, the
uncapped detection of the old default) and one with `--after` (default: the current defaults).
`--before-root DIR` runs the before scan from another source tree (`git worktree add DIR OLD`),
for changes no setting can undo.
Polls the CPU seconds of each process tree from /proc as reports come out and prints, over the
files both finished: CPU seconds and their ratio, files/s, decision and rule-id differences per
file, how many reports are the same field by field (boxes, confidences and messages too), what
bench_slips.py counts per folder (files caught by a finding of the folder's kind; text.* false
positives on the pictures the manifest calls textless), and wall seconds per stage summed from the reports'
`timings` (a profile by stage; `visual.keypad` is the keypad search of scanner/visual/terminal.py).
Ctrl-C stops both runs and still prints the comparison of what they finished. Linux only; skips
when the corpus is absent.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _corpus import default_corpus, manifest  # noqa: E402
from bench_slips import KINDS, TEXT_FAMILIES, caught  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """user + system seconds of `pid` and every process below it."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(d)] = int(fields[1])
            ticks[int(d)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo += [c for c, pp in parent.items() if pp == p]
    return total / HZ


def _env(spec: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in spec.split(",") if kv)


def _rules(rep: dict[str, Any]) -> set[str]:
    found = {str(f["rule_id"]) for f in rep.get("findings", [])}
    for part in rep.get("parts") or []:
        found |= _rules(part)
    return found


def _slip_rules(rep: dict[str, Any]) -> set[str]:
    """bench_slips.rules on a JSON report: rule ids above info, the metadata detector's text.* findings left out."""
    found = {str(f["rule_id"]) for f in rep.get("findings", []) if f["severity"] != "info"
             and (f["detector"] != "metadata" or str(f["rule_id"]).startswith("metadata."))}
    for part in rep.get("parts") or []:
        found |= _slip_rules(part)
    return found


def _slips(corpus: Path, reports: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per folder of KINDS: files caught / files; and text.* false positives on the textless photos."""
    rows = [r for r in manifest(corpus) if r["kind"] != "document"]  # the files bench_slips.py scans
    listed = {r["relpath"] for r in rows}
    by_rel = {rel: r for rel, r in ((Path(p).resolve().relative_to(corpus.resolve()).as_posix(), r)
                                    for p, r in reports.items() if Path(p).resolve().is_relative_to(corpus.resolve()))
              if rel in listed}
    out = {}
    for folder, words in KINDS.items():
        mine = [r for rel, r in by_rel.items() if rel.split("/")[0] == folder]
        out[folder] = f"{sum(bool(caught(_slip_rules(r), words)) for r in mine)}/{len(mine)}"
    textless = [r["relpath"] for r in rows if r["has_text"] == "no"]
    fps = [p for p in textless if p in by_rel and caught(_slip_rules(by_rel[p]), TEXT_FAMILIES)]
    out["FP text.* on textless"] = f"{len(fps)}/{sum(p in by_rel for p in textless)}"
    return out


def _stages(rep: dict[str, Any], acc: dict[str, float]) -> None:
    for k, v in rep.get("timings", {}).items():
        acc[k] = acc.get(k, 0.0) + float(v)
    for part in rep.get("parts") or []:
        _stages(part, acc)


def _comparable(rep: Any) -> Any:
    """A report as two runs of the same code write it alike: no `timings`, and each keyed hash ("hmac:...", a
    random key per scan, scanner/text_safety.py) replaced by a marker."""
    if isinstance(rep, dict):
        return {k: _comparable(v) for k, v in rep.items() if k != "timings"}
    if isinstance(rep, list):
        return [_comparable(v) for v in rep]
    return "hmac" if isinstance(rep, str) and rep.startswith("hmac:") else rep


def _load(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rep = json.loads(line)
            out[str(rep["path"])] = rep
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--before", default="LEAKSCAN_OCR_DET_SIDE=0")
    ap.add_argument("--after", default="")
    ap.add_argument("--out", type=Path, default=Path("bench_ocr_scan"))
    ap.add_argument("--before-root", type=Path, default=ROOT,
                    help="the source tree the before run scans with (a checkout of the old commit; default: this one)")
    ap.add_argument("--reuse", action="store_true", help="compare the reports already in --out (no scan, no CPU row)")
    args = ap.parse_args(argv)
    if not (args.corpus / "MANIFEST.csv").is_file():
        print(f"corpus not found at {args.corpus}: skipping", file=sys.stderr)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {"before": _env(args.before), "after": _env(args.after)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    cpu_at: dict[str, dict[int, float]] = {n: {} for n in runs}  # name -> {reports written: cpu seconds}
    for name, extra in ({} if args.reuse else runs).items():
        env = {**os.environ, "LEAKSCAN_AUDIT_DB": "off", **extra}
        cmd = [sys.executable, "-m", "scanner", "scan", "--format", "jsonl", "--jobs", "1", str(args.corpus)]
        root = args.before_root if name == "before" else ROOT
        with (args.out / f"{name}.jsonl").open("w") as out:
            procs[name] = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    try:
        while any(p.poll() is None for p in procs.values()):
            for name, proc in procs.items():
                if proc.poll() is None:
                    done = len((args.out / f"{name}.jsonl").read_text().splitlines())
                    cpu_at[name].setdefault(done, _tree_cpu(proc.pid))
            time.sleep(2)
    except KeyboardInterrupt:
        for proc in procs.values():
            proc.terminate()
    wall = time.perf_counter() - start
    before, after = _load(args.out / "before.jsonl"), _load(args.out / "after.jsonl")
    common = [p for p in before if p in after]
    n = len(common)
    marks = sorted(set(cpu_at["before"]) & set(cpu_at["after"]) - {0})
    print(f"{n} files finished by both runs ({len(before)} / {len(after)}), {wall:.0f} s wall; "
          f"before {runs['before']} ({args.before_root}), after {runs['after'] or 'defaults'}")
    if marks:
        k = marks[-1]
        b, a = cpu_at["before"][k], cpu_at["after"][k]
        print(f"cpu s over the first {k} reports: before {b:.1f}, after {a:.1f}: {b / max(a, 1e-9):.2f}x "
              f"({k / max(b, 1e-9):.3f} vs {k / max(a, 1e-9):.3f} files per cpu second)")
    changed = [p for p in common
               if before[p]["decision"] != after[p]["decision"] or _rules(before[p]) != _rules(after[p])]
    print(f"decisions: before {dict(collections.Counter(before[p]['decision'] for p in common))}, "
          f"after {dict(collections.Counter(after[p]['decision'] for p in common))}; files changed: {len(changed)}")
    for p in changed:
        print(f"  {p}: {before[p]['decision']} {sorted(_rules(before[p]))} -> "
              f"{after[p]['decision']} {sorted(_rules(after[p]))}")
    same = sum(_comparable(before[p]) == _comparable(after[p]) for p in common)
    print(f"reports the same field by field (timings and per-scan hash keys aside): {same}/{n}")
    slips = {name: _slips(args.corpus, {p: rep[p] for p in common}) for name, rep in (("before", before),
                                                                                    ("after", after))}
    print("| bench_slips count | before | after |\n|---|---|---|")
    for row in slips["before"]:
        print(f"| {row} | {slips['before'][row]} | {slips['after'][row]} |")
    acc: dict[str, dict[str, float]] = {name: {} for name in runs}
    for p in common:
        _stages(before[p], acc["before"])
        _stages(after[p], acc["after"])
    print("| stage (wall s, summed) | before | after |\n|---|---|---|")
    for stage, secs in sorted(acc["before"].items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {secs:.1f} | {acc['after'].get(stage, 0.0):.1f} |")
    for stage in sorted(set(acc["after"]) - set(acc["before"])):
        print(f"| {stage} | 0.0 | {acc['after'][stage]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
