"""Render the dev help center's articles into search-result pages in the seed page's format.

The seed (corpus/000_*.txt) is what the vendor's site gives: a login banner, then one line per
search result, each a window of about 200 characters of one help article. A result starts
with the article's title (doubled for a topic title, once for a FAQ question) or somewhere
inside the article, ends where the window ends (often mid-sentence) or with ``父主题: X``
when it reaches the article's end, and the same result turns up again on the page and on
other pages, verbatim or as another window of the same article. This module writes pages
with exactly those habits from the hand-written articles in articles/*.jsonl, so that the
product's cleaning, splitting and near-duplicate removal meet them as they are.

Deterministic: the same articles always give the same pages (one seeded RNG per page).

    python -m eval.helpcenter.render            # writes eval/helpcenter/pages/*.txt
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARTICLES = HERE / "articles"
PAGES = HERE / "pages"
BANNER = (
    "检测到您已登录华为云国际站账号,为了您更好的体验,建议您访问国际站服务网站 "
    "https://www.huaweicloud.com/intl/zh-cn",
    "不再显示此消息",
)
WINDOW = 200  # characters of one search result, like the seed's lines
WHOLE = 235  # an article this short (title included) is shown whole
REPEAT_SHARE = 0.12  # results shown a second time on the same page, verbatim
CROSS_PAGE_SHARE = 0.05  # results that also turn up on another page


@dataclass(frozen=True)
class Article:
    """One hand-written help article."""

    id: str
    page: str
    title: str
    breadcrumb: str
    body: tuple[str, ...]
    steps: tuple[str, ...] = ()

    @property
    def sentences(self) -> tuple[str, ...]:
        """Return the article's text units in order, the procedure after its label."""
        return self.body + (("操作步骤", *self.steps) if self.steps else ())

    @property
    def is_question(self) -> bool:
        """Tell whether the title is a FAQ question."""
        return self.title.rstrip().endswith(("?", "\uff1f"))


def load_articles(folder: Path = ARTICLES) -> list[Article]:
    """Read every articles/NN.jsonl file, in page order."""
    found: list[Article] = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                found.append(
                    Article(
                        id=raw["id"],
                        page=path.stem,
                        title=raw["title"].strip(),
                        breadcrumb=raw["breadcrumb"].strip(),
                        body=tuple(s.strip() for s in raw["body"] if s.strip()),
                        steps=tuple(s.strip() for s in raw.get("steps") or () if s.strip()),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise SystemExit(f"{path}:{n}: not an article ({exc})") from exc
    return found


def _head(article: Article, style: str) -> str:
    """Return how a result opens on the title: doubled topic title, or the question once."""
    if style == "none":
        return ""
    if article.is_question or style == "single":
        return f"{article.title} "
    return f"{article.title} {article.title} "


def _windows(article: Article, rng: random.Random) -> Iterator[str]:
    """Yield the search results that show this article (one, or two for a long one)."""
    units = article.sentences
    text = " ".join(units)
    trailer = f" 父主题: {article.breadcrumb}"
    style = rng.choices(["title", "single", "none"], weights=[6, 2, 2])[0]
    head = _head(article, style)
    if len(head) + len(text) <= WHOLE:
        yield head + text + (trailer if rng.random() < 0.6 else "")
        return
    # A long article: the site shows a window from the start, and another result whose
    # window starts at a later sentence (a near repeat sharing the middle).
    yield (head + text)[:WINDOW]
    starts = [sum(len(u) + 1 for u in units[:i]) for i in range(1, len(units))]
    later = [s for s in starts if s >= len(text) // 3] or starts[-1:]
    tail = text[later[0] :]
    if len(tail) > WHOLE:
        yield tail[:WINDOW]
    else:
        yield tail + (trailer if rng.random() < 0.6 else "")


def render_page(articles: Sequence[Article], seed: int, guests: Sequence[str] = ()) -> str:
    """Return one page: the banner, then the articles' results with verbatim repeats."""
    rng = random.Random(seed)
    results = [w for a in articles for w in _windows(a, rng)]
    rng.shuffle(results)
    for result in rng.sample(results, k=max(1, round(REPEAT_SHARE * len(results)))):
        results.insert(rng.randrange(len(results) + 1), result)
    for guest in guests:  # results of other pages that this search also returned
        results.insert(rng.randrange(len(results) + 1), guest)
    return "\n".join([*BANNER, *results]) + "\n"


def render_all(articles: Sequence[Article]) -> dict[str, str]:
    """Return {file name: text} for every page, cross-page repeats included."""
    by_page: dict[str, list[Article]] = {}
    for article in articles:
        by_page.setdefault(article.page, []).append(article)
    rng = random.Random(0)
    pages = sorted(by_page)
    guests: dict[str, list[str]] = {p: [] for p in pages}
    for page in pages:
        others = [p for p in pages if p != page]
        for article in by_page[page]:
            if others and rng.random() < CROSS_PAGE_SHARE:
                window = next(_windows(article, random.Random(article.id)))
                guests[rng.choice(others)].append(window)
    out: dict[str, str] = {}
    for n, page in enumerate(pages, 1):
        text = render_page(by_page[page], seed=n, guests=guests[page])
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        out[f"1{page}_{digest}.txt"] = text
    return out


def main(argv: Sequence[str] = ()) -> int:
    """Write the pages; print one line per page."""
    articles = load_articles()
    if not articles:
        print(f"no articles under {ARTICLES}", file=sys.stderr)
        return 1
    PAGES.mkdir(exist_ok=True)
    for old in PAGES.glob("*.txt"):
        old.unlink()
    for name, text in render_all(articles).items():
        (PAGES / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(text.splitlines()) - len(BANNER)} results, {len(text)} chars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
