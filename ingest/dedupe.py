"""Remove exact and near-duplicate passages, keeping every place each one stood.

Exact duplicates share their normalized text (match_key: punctuation, spaces and
full/half-width forms do not count) and title. Near duplicates are found with MinHash LSH
over character shingles (datasketch) and confirmed sentence by sentence: the share of the
smaller passage that stands in the larger one, with each sentence weighted by its length
and its rarity across the corpus (idf). The weighting is what keeps procedures that merely
share navigation boilerplate (``使用合作伙伴账号登录华为云。 单击…“伙伴中心”…``) apart:
those sentences are frequent, so they weigh little.

A confirmed near duplicate is resolved so that no sentence is lost:

- ``merged``: every sentence of the smaller passage stands in the larger one (a truncated
  snippet): it disappears and its sources are added to the larger one;
- ``trimmed``: its sentences of its own form a run at its start or end: it keeps only that
  run (its head, say) and the shared part's sources are added to the larger one;
- ``variant``: its own sentences are in the middle: both are kept whole, and the pair is
  reported.

Trimming can leave a passage equal to another one (two snippets whose only own sentence is
the same navigation step), so the kept passages are merged exactly once more: each text
stands once, with every source of every copy. A trim that leaves no letter or digit merges.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ingest.records import Passage, Source
from ingest.text import content_id, match_key
from ingest.units import Unit, units

NearKind = Literal["merged", "trimmed", "variant"]
_SHINGLE = 3
_MIN_SHARED_CHARS = 20
_TRUNCATED_MIN = 4  # a cut-off first/last sentence matches a longer one from this length on
COMMON_DF = 3  # a sentence standing in this many passages is boilerplate (navigation steps)


@dataclass(frozen=True)
class NearPair:
    """A near duplicate found: the passage as it was, the one kept, and what was done."""

    other: Passage
    kept_id: str
    kind: NearKind
    score: float


@dataclass(frozen=True)
class DedupeResult:
    """Kept passages and what was merged."""

    passages: tuple[Passage, ...]
    exact_duplicates: int
    near_pairs: tuple[NearPair, ...]
    common_units: frozenset[str] = frozenset()  # match keys of sentences in many passages

    @property
    def near_duplicates(self) -> int:
        """Count near duplicates whose shared text was merged (merged or trimmed)."""
        return sum(1 for p in self.near_pairs if p.kind != "variant")


def dedupe(
    passages: Sequence[Passage],
    page_texts: Mapping[str, str],
    threshold: float = 0.75,
    num_perm: int = 64,
) -> DedupeResult:
    """Merge exact and near duplicates; page_texts (path -> text) locates trimmed spans."""
    unique, exact = merge_exact(passages)
    near = _Near(unique, page_texts, threshold, num_perm)
    kept, pairs, remerged = near.run()
    # A trimmed passage merged into an equal one is an exact duplicate of it.
    return DedupeResult(tuple(kept), exact + remerged, tuple(pairs), near.common_units())


def merge_exact(passages: Sequence[Passage]) -> tuple[list[Passage], int]:
    """Merge passages with the same normalized title and text; return them and the count."""
    kept, _ = _merge_same(passages)
    return kept, len(passages) - len(kept)


def _merge_same(passages: Sequence[Passage]) -> tuple[list[Passage], list[int]]:
    """Merge passages with the same match keys; return them and where each input went."""
    slot: dict[tuple[str, str], int] = {}
    kept: list[Passage] = []
    where: list[int] = []
    for passage in passages:
        key = (match_key(passage.title), match_key(passage.text))
        i = slot.setdefault(key, len(kept))
        if i == len(kept):
            kept.append(passage)
        else:
            kept[i] = _with_sources(kept[i], passage.sources)
        where.append(i)
    return kept, where


def _with_sources(passage: Passage, sources: Sequence[Source]) -> Passage:
    known = set(passage.sources)
    extra = tuple(s for s in sources if s not in known)
    return replace(passage, sources=passage.sources + extra)


def _hash(shingle: bytes) -> int:
    return zlib.crc32(shingle)


class _Near:
    def __init__(
        self,
        passages: list[Passage],
        page_texts: Mapping[str, str],
        threshold: float,
        num_perm: int,
    ) -> None:
        self.passages = passages
        self.page_texts = page_texts
        self.threshold = threshold
        self.num_perm = num_perm
        self.units = [units(p.text) for p in passages]
        self.keys = [[match_key(u.text) for u in us] for us in self.units]
        df: Counter[str] = Counter()
        for ks in self.keys:
            df.update(set(ks))
        n = len(passages)
        self.df = df
        self.idf = {k: math.log((n + 1) / (c + 1)) + 1 for k, c in df.items()}

    def common_units(self) -> frozenset[str]:
        """Return the match keys of sentences standing in COMMON_DF passages or more."""
        return frozenset(k for k, c in self.df.items() if c >= COMMON_DF and k)

    def run(self) -> tuple[list[Passage], list[NearPair], int]:
        """Resolve near duplicates; return the kept passages, the pairs and the re-merges."""
        candidates = self._candidates()
        alive: dict[int, Passage] = dict(enumerate(self.passages))
        into: dict[int, int] = {}  # a passage merged away -> the one that took its sources
        resolved: set[int] = set()
        found: list[tuple[int, int, NearKind, float]] = []
        # Smallest first: a fragment is resolved against the most complete copy.
        for a in sorted(candidates, key=lambda i: (len(self.passages[i].text), i)):
            best: tuple[float, int, list[bool]] | None = None
            for b in candidates[a]:
                if b not in alive or b in resolved:
                    continue
                if _longer(self.passages[a], self.passages[b], a, b):
                    continue  # the pair is resolved from the smaller side
                score, matched = self._containment(a, b)
                if score >= self.threshold and (best is None or score > best[0]):
                    best = (score, b, matched)
            if best is None or a not in alive:
                continue
            score, b, matched = best
            kind = self._resolve(a, b, matched, alive)
            if kind == "merged":
                into[a] = b
            resolved.add(a)
            found.append((a, b, kind, round(score, 4)))
        order = sorted(alive)
        kept, where = _merge_same([alive[i] for i in order])
        final = {i: kept[w].id for i, w in zip(order, where, strict=True)}

        def final_id(i: int) -> str:
            while i in into:
                i = into[i]
            return final[i]

        # A kept passage may itself be trimmed or merged later: name the one that holds it now.
        pairs = [NearPair(self.passages[a], final_id(b), k, s) for a, b, k, s in found]
        return kept, pairs, len(order) - len(kept)

    def _candidates(self) -> dict[int, set[int]]:
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=0.4, num_perm=self.num_perm)
        # One set of permutations for all: building them per MinHash dominated the run.
        permutations = MinHash(num_perm=self.num_perm, hashfunc=_hash, seed=1).permutations
        hashes: dict[int, MinHash] = {}
        for i, passage in enumerate(self.passages):
            key = match_key(passage.text)
            if len(key) < _MIN_SHARED_CHARS:
                continue
            grams = {key[j : j + _SHINGLE].encode() for j in range(len(key) - _SHINGLE + 1)}
            mh = MinHash(
                num_perm=self.num_perm, hashfunc=_hash, permutations=permutations, scheme="affine32"
            )
            mh.update_batch(list(grams))
            hashes[i] = mh
            lsh.insert(i, mh)
        found: dict[int, set[int]] = {}
        for i, mh in hashes.items():
            others = {j for j in lsh.query(mh) if j != i}
            if others:
                found[i] = others
        return found

    def _containment(self, a: int, b: int) -> tuple[float, list[bool]]:
        """Return the idf-weighted share of a's sentences standing in b, and which do."""
        keys_a, keys_b = self.keys[a], self.keys[b]
        set_b = set(keys_b)
        matched = []
        last = len(keys_a) - 1
        for i, key in enumerate(keys_a):
            hit = key in set_b
            if not hit and len(key) >= _TRUNCATED_MIN:
                if i == 0:
                    hit = any(kb.endswith(key) for kb in keys_b)
                if i == last and not hit:
                    hit = any(kb.startswith(key) for kb in keys_b)
            matched.append(hit)
        weights = [len(k) * self.idf[k] for k in keys_a]
        total = sum(weights)
        shared_chars = sum(len(k) for k, m in zip(keys_a, matched, strict=True) if m)
        if not total or shared_chars < _MIN_SHARED_CHARS:
            return 0.0, matched
        return sum(w for w, m in zip(weights, matched, strict=True) if m) / total, matched

    def _resolve(self, a: int, b: int, matched: list[bool], alive: dict[int, Passage]) -> NearKind:
        passage, unit_list = alive[a], self.units[a]
        if all(matched):
            del alive[a]
            alive[b] = _with_sources(alive[b], passage.sources)
            return "merged"
        run = _own_run(matched)
        if run is None:
            return "variant"
        own = unit_list[run[0] : run[1]]
        shared = [u for u, m in zip(unit_list, matched, strict=True) if m]
        own_text = passage.text[own[0].start : own[-1].end]
        if not match_key(own_text):  # only punctuation of its own: nothing would be left
            del alive[a]
            alive[b] = _with_sources(alive[b], passage.sources)
            return "merged"
        alive[a] = replace(
            passage,
            id=content_id(passage.title, own_text),
            text=own_text,
            sources=tuple(self._locate(s, own) for s in passage.sources),
        )
        alive[b] = _with_sources(alive[b], [self._locate(s, shared) for s in passage.sources])
        return "trimmed"

    def _locate(self, source: Source, run: Sequence[Unit]) -> Source:
        """Find where a run of a passage's units stands inside one of its sources."""
        text = self.page_texts.get(source.path)
        if text is None:
            return source
        first = _find(text, run[0].text, source.start, source.end)
        last = _find(text, run[-1].text, first[0] if first else source.start, source.end)
        if first is None or last is None:
            return source
        return replace(source, start=first[0], end=last[1])


def _longer(pa: Passage, pb: Passage, a: int, b: int) -> bool:
    """Tell whether a is the larger of the pair (ties go to the later one)."""
    return (len(pa.text), a) > (len(pb.text), b)


def _own_run(matched: Sequence[bool]) -> tuple[int, int] | None:
    """Return the span of unmatched units if they form one run at the start or the end."""
    own = [i for i, m in enumerate(matched) if not m]
    start, end = own[0], own[-1] + 1
    if end - start != len(own):
        return None
    if start == 0 or end == len(matched):
        return start, end
    return None


def _find(text: str, needle: str, start: int, end: int) -> tuple[int, int] | None:
    """Find needle in text[start:end], letting any run of white space match any other."""
    pattern = r"\s+".join(re.escape(part) for part in needle.split())
    found = re.compile(pattern).search(text, start, end)
    return found.span() if found else None
