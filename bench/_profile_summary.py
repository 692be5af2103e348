"""Summarise a py-spy ``--format raw`` profile (collapsed stacks): where the samples went.

Run: .venv/bin/python bench/_profile_summary.py PROFILE.txt [--top 25] [--match TEXT ...]

Prints the functions with the most samples at the top of the stack (self) and the most
samples anywhere on it (inclusive), as shares of all samples; ``--match`` adds the
inclusive share of every stack holding one of the given texts (a module, a function).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"\s*\(([^)]*?)(?::\d+)?\)\s*$")


def function_of(frame: str) -> str:
    """``name (path/to/module.py:12)`` -> ``name (module.py)``."""
    match = _LINE.search(frame)
    if not match:
        return frame.strip()
    name = frame[: match.start()].strip()
    return f"{name} ({Path(match.group(1)).name})"


def summarise(path: Path, top: int, matches: list[str]) -> str:
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [function_of(f) for f in stack.split(";") if f.strip()]
        # py-spy puts the thread first; idle samples have no Python frame under it
        if frames:
            own[frames[-1]] += count
        for function in set(frames):
            anywhere[function] += count
        for text in matches:
            if text in stack:
                matched[text] += count
    out = [f"{path.name}: {total} samples"]
    out.append("self:")
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    out.append("inclusive:")
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in anywhere.most_common(top)]
    if matches:
        out.append("stacks holding:")
        out += [f"  {100 * matched[t] / total:5.1f}%  {t}" for t in matches]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", nargs="*", default=[])
    args = parser.parse_args()
    print(summarise(args.profile, args.top, args.match))


if __name__ == "__main__":
    main()
