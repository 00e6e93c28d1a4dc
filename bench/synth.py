"""Synthetic snippet corpora from the seed's vocabulary, with recorded injected duplicates.

Each line is a search-result snippet of 4-7 sentences of seed words (seed lines hold 4-8), a third
of them opening with the shared navigation boilerplate (which dedupe must not merge). About 20%
of the lines are injected copies of earlier lines: exact repeats, and near copies of five
kinds (cut at the start, cut at the end, a different first sentence, punctuation dropped,
a different sentence in the middle). Every injected pair is recorded.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

SEED = Path(__file__).parents[1] / "corpus" / "000_703c6e61c96b5cdc.txt"
BANNER = "检测到您已登录华为云国际站账号,为了您更好的体验,建议您访问国际站服务网站 https://www.huaweicloud.com/intl/zh-cn\n不再显示此消息\n"
NAVIGATION = "使用合作伙伴账号登录华为云。 单击页面右上角账号下拉框中的“伙伴中心”,进入伙伴中心。"
NEAR_KINDS = ("cut_start", "cut_end", "new_head", "punctuation", "new_middle")


@dataclass(frozen=True)
class Injected:
    """A duplicate line and the line it copies."""

    line: int
    base: int
    kind: str  # "exact" or one of NEAR_KINDS


@dataclass(frozen=True)
class Corpus:
    """Lines written to files, where each line starts, and the injected pairs."""

    files: tuple[Path, ...]
    lines: tuple[str, ...]
    starts: tuple[tuple[str, int], ...]  # (path, offset) of each line
    injected: tuple[Injected, ...]


def shingle_jaccard(a: str, b: str, n: int = 3) -> float:
    """Return the Jaccard similarity of two texts' character n-grams (letters/digits only)."""
    from ingest.text import match_key

    ka, kb = match_key(a), match_key(b)
    sa = {ka[i : i + n] for i in range(len(ka) - n + 1)}
    sb = {kb[i : i + n] for i in range(len(kb) - n + 1)}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def vocabulary() -> list[str]:
    """Return the seed's words (jieba), without punctuation."""
    import jieba

    text = SEED.read_text(encoding="utf-8").split("\n", 2)[2]
    words = [w for w in jieba.lcut(text) if re.fullmatch(r"[\w]+", w)]
    return sorted(set(words))


class Generator:
    """Make snippet lines and their injected copies, deterministically from a seed."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()

    def sentence(self) -> str:
        n = self.rng.randint(6, 14)
        body = "".join(self.rng.choice(self.words) for _ in range(n))
        return body + self.rng.choice("。。。;")

    def line(self) -> str:
        sentences = [self.sentence() for _ in range(self.rng.randint(4, 7))]
        if self.rng.random() < 0.33:
            sentences.insert(0, NAVIGATION)
        return " ".join(sentences)

    def near(self, base: str, kind: str) -> str:
        parts = base.split(" ")
        if kind == "cut_start":
            return base[int(len(base) * self.rng.uniform(0.1, 0.25)) :]
        if kind == "cut_end":
            return base[: int(len(base) * self.rng.uniform(0.75, 0.9))]
        if kind == "new_head":
            return " ".join([self.sentence(), *parts[1:]])
        if kind == "punctuation":
            return base.replace("。", "").replace(";", " ")
        middle = len(parts) // 2
        return " ".join([*parts[:middle], self.sentence(), *parts[middle + 1 :]])


def make_corpus(
    directory: Path, n_lines: int, dup_share: float = 0.2, per_file: int = 1000, seed: int = 7
) -> Corpus:
    """Write n_lines snippet lines into files under directory; record injected duplicates."""
    gen = Generator(seed)
    lines: list[str] = []
    injected: list[Injected] = []
    originals: list[int] = []
    for i in range(n_lines):
        if originals and gen.rng.random() < dup_share:
            base = gen.rng.choice(originals)
            kind = "exact" if gen.rng.random() < 0.5 else gen.rng.choice(NEAR_KINDS)
            lines.append(lines[base] if kind == "exact" else gen.near(lines[base], kind))
            injected.append(Injected(i, base, kind))
        else:
            lines.append(gen.line())
            originals.append(i)
    directory.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    starts: list[tuple[str, int]] = []
    for f, first in enumerate(range(0, n_lines, per_file)):
        path = directory / f"page{f:05d}.txt"
        text = BANNER
        for line in lines[first : first + per_file]:
            starts.append((path.as_posix(), len(text)))
            text += line + "\n"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return Corpus(tuple(files), tuple(lines), tuple(starts), tuple(injected))
