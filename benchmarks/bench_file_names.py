"""File names: how often the text rules hit the names that apps and cameras give files, and how many of the
ways people write a card number or a password into a name they still find.

The names are generated (seeded, so a run repeats): for each pattern N names with random digits, hex or words in
the shapes that phones, chat apps, shops and cloud exports use. Every hit on them is a false positive: a
`block` (a card) or a finding on a holiday photo's name. The positives are card numbers (random, Luhn-valid, of
the common schemes) and passwords written into names the ways people do. Printed: hits per pattern with an
example (masked), and recall per spelling; nothing is compared with a stored figure.

    .venv/bin/python benchmarks/bench_file_names.py [--n 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.config import Settings
from scanner.expansion import names_for

Rng = random.Random


def digits(rng: Rng, n: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def hexes(rng: Rng, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def grouped(number: str, sep: str) -> str:
    """A card number in its groups: 4-4-4-4, or 4-6-5 for 15 digits."""
    cuts = (0, 4, 10, 15) if len(number) == 15 else (0, 4, 8, 12, 16)
    return sep.join(number[a:b] for a, b in itertools.pairwise(cuts))


def card(rng: Rng) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                                 ("6011", 16), ("3528", 16)])
    return luhn_complete(prefix + digits(rng, length - len(prefix) - 1, "0123456789"))


def date(rng: Rng) -> str:
    return f"20{rng.randint(10, 26)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def clock(rng: Rng) -> str:
    return f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"


# pattern name -> a generator of one ordinary name
ORDINARY: dict[str, Callable[[Rng], str]] = {
    "instagram/facebook <9>_<16>_<19>_n": lambda r: f"{digits(r, r.choice([8, 9]))}_{digits(r, r.choice([15, 16, 17]))}"
                                                   f"_{digits(r, 19)}_n.jpg",
    "facebook received_<16>": lambda r: f"received_{digits(r, r.choice([15, 16]))}.jpeg",
    "telegram photo_<19>_y": lambda r: f"photo_{digits(r, 19)}_y.jpg",
    "whatsapp IMG-<date>-WA<4>": lambda r: f"IMG-{date(r)}-WA{r.randint(0, 9999):04d}.jpg",
    "pixel PXL_<date>_<9>": lambda r: f"PXL_{date(r)}_{clock(r)}{r.randint(0, 999):03d}.jpg",
    "android IMG_<date>_<time>": lambda r: f"IMG_{date(r)}_{clock(r)}.jpg",
    "screenshot Screenshot_<date>-<time>_<app>": lambda r: f"Screenshot_{date(r)}-{clock(r)}_Chrome.png",
    "unix ms timestamp": lambda r: f"{r.randint(1_400_000_000_000, 1_800_000_000_000)}.jpg",
    "signal-<date>-<time>_<3>": lambda r: f"signal-{date(r)[:4]}-{date(r)[4:6]}-{date(r)[6:]}-{clock(r)}"
                                          f"_{r.randint(1, 999):03d}.jpeg",
    "amazon order <3>-<7>-<7>": lambda r: f"Order {digits(r, 3)}-{digits(r, 7, '0123456789')}"
                                          f"-{digits(r, 7, '0123456789')}.pdf",
    "invoice INV<10>": lambda r: f"Invoice INV{digits(r, 10)}.pdf",
    "uuid": lambda r: f"{hexes(r, 8)}-{hexes(r, 4)}-{hexes(r, 4)}-{hexes(r, 4)}-{hexes(r, 12)}.png",
    "hash <32 hex>": lambda r: f"{hexes(r, 32)}.jpg",
    "dsc DSC<5>": lambda r: f"DSC{r.randint(0, 99999):05d}.JPG",
    "tracking 1Z<16>": lambda r: f"label 1Z{hexes(r, 6).upper()}{digits(r, 10, '0123456789')}.pdf",
}

# spelling name -> a generator of a name holding a secret
LEAKY: dict[str, Callable[[Rng], str]] = {
    "card grouped with spaces": lambda r: grouped(card(r), " ") + ".jpg",
    "card as one run": lambda r: f"{card(r)}.jpg",
    "card word + run": lambda r: f"card {card(r)}.png",
    "card grouped with underscores": lambda r: grouped(card(r), "_") + ".jpg",
    "card grouped with dashes": lambda r: f"visa {grouped(card(r), '-')}.pdf",
    "card run + date": lambda r: f"{card(r)}_{date(r)}.jpg",
    "card run + copy mark": lambda r: f"{card(r)} (1).jpg",
    "password=value": lambda r: f"password={hexes(r, 4)}Secret{r.randint(10, 99)}!.png",
    "wifi pass: value": lambda r: f"wifi pass: Guest{hexes(r, 6)}.jpg",
}


def rate(names: list[str], check: Callable[[str], Sequence[object]]) -> tuple[int, str]:
    hits = [n for n in names if check(n)]
    return len(hits), (hits[0] if hits else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="names per pattern (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    names = names_for(Settings(audit_db="off"))
    check = names.name_findings
    start = time.perf_counter()
    checked = 0
    print(f"ordinary names ({args.n} a pattern): names with a finding (a false positive)")
    total_fp = 0
    for label, make in ORDINARY.items():
        rng = random.Random(f"{args.seed}:{label}")
        batch = [make(rng) for _ in range(args.n)]
        hits, example = rate(batch, check)
        checked += len(batch)
        total_fp += hits
        shown = f"  e.g. {names.shown(example)}" if example else ""
        print(f"  {label:44s} {hits:5d} / {args.n} ({100 * hits / args.n:.2f}%){shown}")
    print(f"  {'all':44s} {total_fp:5d} / {args.n * len(ORDINARY)}")
    print(f"names holding a secret ({args.n} a spelling): names with a finding (recall)")
    for label, make in LEAKY.items():
        rng = random.Random(f"{args.seed}:{label}")
        batch = [make(rng) for _ in range(args.n)]
        hits, _ = rate(batch, check)
        checked += len(batch)
        print(f"  {label:44s} {hits:5d} / {args.n} ({100 * hits / args.n:.1f}%)")
    seconds = time.perf_counter() - start
    print(f"{checked} names in {seconds:.1f} s ({1000 * seconds / checked:.3f} ms a name)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
