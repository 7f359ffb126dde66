"""Seeded generator of realistic syndication dumps, with a ground truth, for the ingest benchmark.

Each file is a text dump in the seed's layout::

    Headline line
    <blank>
    Photo credit line (optional: "Name Name/Getty Images", "(AP Photo/Name Name)")
    <blank>
    CITY – first paragraph ...          (dateline, en dash; "CITY, Country (AP) —" in AP copy)
    <blank>
    8-25 paragraphs of 20-60 words, some with “curly” quotes
    <blank><blank>
    the outlet's footer line(s)

About ``dup_rate`` of the files are syndicated copies of an earlier story: exact byte copies
(about a quarter of them) and edits (new headline, different credit and footer, the AP
dateline, last paragraph(s) trimmed, a paragraph added, a few words changed, straight vs
curly quotes, NBSPs). Edits spend a shingle budget so that the exact Jaccard of the clean
bodies (word 5-gram sets, the benchmark definition) is mostly >= 0.8 (about 8% are heavier
rewrites, mostly 0.6-0.8). Unrelated stories draw from a 20,000-word vocabulary with a Zipf
tail, so their Jaccard is ~0.

Layout: ``OUT/<outlet>/<chunk>/<n>.txt`` (``outlet`` = one of 12 outlets, each with its own
footer, so per-source boilerplate can be learned; chunks hold <= 1000 files). The answer key,
``OUT.truth.jsonl`` beside ``OUT`` (not inside it, where ``newsdedup ingest OUT`` would read it
as a JSONL export), has one line per file: ``{"file": "outlet-03/0001/0001234.txt", "story": "s0000042",
"kind": "original"|"exact"|"variant", "of": <original file or null>, "jaccard": <clean body
J with the original or null>}``. Recall of a dedup run = share of same-story file pairs
(optionally only those with J >= 0.8) that end in one cluster.

CLI: ``python bench/synthetic.py OUT_DIR --n 10000 --seed 0 [--dup-rate 0.3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

SHINGLE_K = 5
CHUNK_FILES = 1000
# Syndication happens within days: variants copy one of the most recent originals, which also
# bounds memory at 1M files.
RECENT_STORIES = 4000
HEAVY_EDIT_SHARE = 0.08
NB = "\u00a0"

_FUNCTION_WORDS = (
    "the of and to in a that for on is was with said by as at from his her it an be has have "
    "are were will would its their they he she who which this but not had after also been more "
    "about than over into up out one two three new last year years week on monday tuesday "
    "wednesday thursday friday saturday sunday people government officials told could there "
    "other when may some all while before under against between during since police city state"
).split()
_NEWS_WORDS = (
    "minister council harbour vote budget river court school energy market strike union farmers "
    "railway bridge hospital election mayor senate treaty border drought festival museum research "
    "vaccine factory exports tariff pension housing rents storm coast island village province "
    "capital airport tunnel station bank inflation workers teachers nurses judges protest report "
    "inquiry contract license reform plan president company million billion percent security "
    "forces army attack ceasefire talks agreement deal prices fuel oil gas water power grid "
    "climate emissions wildfire flood evacuation residents families children students university "
    "investors shares economy growth jobs unemployment wages spending taxes deficit parliament "
    "opposition party leader campaign poll voters candidate spokesman statement investigation "
    "charges trial verdict prison sentence appeal ruling law bill committee hearing regulators"
).split()
_CITIES = (
    "TEL AVIV|LONDON|NAIROBI|MANILA|LIMA|OSLO|ACCRA|HANOI|DENVER|CHICAGO|MUMBAI|SYDNEY|TORONTO|"
    "MADRID|ATHENS|CAIRO|SEOUL|BOGOTA|LAGOS|DUBLIN|WARSAW|QUITO|HOUSTON|PHOENIX|BERLIN|ROME|"
    "TOKYO|LISBON|DHAKA|KYIV"
).split("|")
_COUNTRIES = (
    "Israel|England|Kenya|Philippines|Peru|Norway|Ghana|Vietnam|Colo.|Ill.|India|Australia|"
    "Ontario|Spain|Greece|Egypt|South Korea|Colombia|Nigeria|Ireland|Poland|Ecuador|Texas|Ariz.|"
    "Germany|Italy|Japan|Portugal|Bangladesh|Ukraine"
).split("|")
_AGENCIES = ("Getty Images", "Reuters", "AFP via Getty Images", "Bloomberg", "EPA")
_OUTLET_FOOTERS = (
    ["Please let us know if you're having issues with commenting."],
    ["Sign up for our Morning Briefing newsletter to get the day's top stories."],
    ["The Metro Times is an independent newsroom supported by readers like you."],
    ["Copyright 2024 The Associated Press. All rights reserved. This material may not be published, broadcast, rewritten or redistributed."],
    ["Follow us on Facebook, X and Instagram for the latest updates."],
    ["Have a news tip? Email the newsroom or call our tip line."],
    ["Reporting by the Coastline Wire staff; editing by the night desk."],
    ["Read more: our full coverage of the region."],
    ["This article was originally published by our partners and is republished with permission."],
    ["Comments are closed for this story.", "Related: more stories from our correspondents."],
    ["Subscribe for unlimited access to local journalism."],
    ["Got a story? Contact the news desk."],
)
OUTLETS = tuple(f"outlet-{i:02d}" for i in range(len(_OUTLET_FOOTERS)))
# Every punctuation character this generator emits (all of Unicode category P*).
_PUNCT_OUT = ".,\u201c\u201d\u2018\u2019\"'\u2013\u2014():?!;"


def _vocabulary() -> tuple[list[str], np.ndarray]:
    """Fixed vocabulary (the same for every seed) and its sampling probabilities."""
    rng = random.Random(20240501)
    onsets = "b c d f g h j k l m n p r s t v w z br ch cl cr dr fl gr pl pr sh st str th tr".split()
    vowels = "a e i o u ai ea ee io oa ou".split()
    codas = ["", "", "n", "r", "l", "s", "t", "nd", "st", "ck", "m", "rk"]
    pseudo: set[str] = set()
    while len(pseudo) < 20000:
        syl = rng.choice((1, 2, 2, 2, 3))
        pseudo.add("".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syl)) + rng.choice(codas))
    ordered = sorted(pseudo)
    rng.shuffle(ordered)  # Zipf ranks must not follow the alphabet
    words = list(_FUNCTION_WORDS) + list(_NEWS_WORDS) + ordered
    nf, nn, npw = len(_FUNCTION_WORDS), len(_NEWS_WORDS), len(pseudo)
    # ~35% function words, ~15% news words, 50% a Zipf tail over the pseudo-words.
    tail = 1.0 / np.arange(1, npw + 1) ** 0.9
    p = np.concatenate([np.full(nf, 0.35 / nf), np.full(nn, 0.15 / nn), 0.5 * tail / tail.sum()])
    return words, p / p.sum()


class _Writer:
    """Draws words fast: one numpy call per article, then plain string joins."""

    def __init__(self, seed: int):
        self.words, p = _vocabulary()
        # Sampling table: word i fills ~p[i] * 2**20 slots, so a draw is one integer
        # array and one take (3x faster than searchsorted on the CDF).
        self.table = np.repeat(np.arange(len(p)), np.maximum(1, np.round(p * (1 << 20)).astype(np.int64)))
        self.np = np.random.Generator(np.random.PCG64(seed))
        self.rng = random.Random(seed)
        names = [w.capitalize() for w in self.words[-3000:]]
        self.names = names

    def draw(self, k: int) -> list[str]:
        idx = self.table[self.np.integers(0, len(self.table), size=k)]
        return list(map(self.words.__getitem__, idx.tolist()))

    def paragraphs(self, lengths: list[int]) -> list[str]:
        """Paragraphs of the given word counts, drawn in one numpy call.

        Sentences of 8-22 words: the first word capitalised and a full stop on the last, by
        editing the word list in place, so each paragraph costs one ``join``.
        """
        ws = self.draw(sum(lengths))
        cuts = self.np.integers(8, 23, size=sum(lengths) // 8 + len(lengths)).tolist()
        ci = 0
        out = []
        pos = 0
        for n in lengths:
            end = pos + n
            i = pos
            while i < end:
                j = min(i + cuts[ci], end) - 1
                ci += 1
                ws[i] = ws[i].capitalize()
                ws[j] += "."
                i = j + 1
            text = " ".join(ws[pos:end])
            if self.rng.random() < 0.2:
                # a quote with curly marks and an apostrophe, like wire copy
                first, _, rest = text.partition(". ")
                text = f"\u201c{first}\u2019s,\u201d said {self.name()}. {rest}".rstrip()
            out.append(text)
            pos = end
        return out

    def paragraph(self, n_words: int) -> str:
        return self.paragraphs([n_words])[0]

    def name(self) -> str:
        return f"{self.rng.choice(self.names)} {self.rng.choice(self.names)}"

    def headline(self) -> str:
        ws = self.draw(self.rng.randint(6, 12))
        return " ".join(w.capitalize() for w in ws)

    def credit(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return f"{self.name()}/{self.rng.choice(_AGENCIES)}"
        if r < 0.55:
            return f"(AP Photo/{self.name()})"
        return ""


class _Story:
    __slots__ = ("sid", "file", "headline", "credit", "city", "country", "paragraphs", "payload", "_hashes")

    def __init__(self, sid, file, headline, credit, city, country, paragraphs, payload):
        self.sid, self.file, self.headline, self.credit = sid, file, headline, credit
        self.city, self.country, self.paragraphs, self.payload = city, country, paragraphs, payload
        self._hashes: np.ndarray | None = None

    def shingle_hashes(self) -> np.ndarray:
        """The clean body's shingle hashes, computed once for all of the story's variants."""
        if self._hashes is None:
            body = "\n\n".join([f"{self.city} \u2013 {self.paragraphs[0]}", *self.paragraphs[1:]])
            self._hashes = _shingle_hashes(body)
        return self._hashes


def _render(headline: str, credit: str, dateline: str, paragraphs: list[str], footer: list[str]) -> str:
    body = [f"{dateline} {paragraphs[0]}", *paragraphs[1:]]
    head = [headline, credit] if credit else [headline]
    return "\n\n".join(head + body) + "\n\n\n" + "\n\n".join(footer) + "\n"


def _fold_words(text: str) -> list[str]:
    """Benchmark folding (lower-case, punctuation deleted, whitespace split) for what we emit."""
    text = text.lower()
    for ch in _PUNCT_OUT:  # str.replace beats a translate table ~8x on non-ASCII text
        if ch in text:
            text = text.replace(ch, "")
    return text.split()


def _shingle_hashes(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word 5-gram set (the benchmark's shingles).

    A 64-bit polynomial over per-word hashes: a collision in a 1,000-shingle body has odds
    of about 1e-14, so the Jaccard below is exact for all practical purposes and ~4x
    faster than building sets of strings.
    """
    w = _fold_words(text)
    if len(w) < SHINGLE_K:
        w = [" ".join(w)] if w else []
        return np.array(sorted({hash(x) for x in w}), dtype=np.int64).view(np.uint64)
    h = np.fromiter(map(hash, w), dtype=np.int64, count=len(w)).view(np.uint64)
    m = len(w) - SHINGLE_K + 1
    acc = h[:m].copy()
    for k in range(1, SHINGLE_K):
        acc = acc * np.uint64(0x9E3779B97F4A7C15) + h[k : k + m]
    return np.unique(acc)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def _edit(wr: _Writer, story: _Story, heavy: bool) -> tuple[str, str, str, list[str]]:
    """A syndicated edit of ``story``: (headline, credit, dateline, paragraphs).

    Edits that change words spend a budget of destroyed/added 5-gram shingles, ~12% of the
    body (J >= ~0.85), or ~35% for a heavy rewrite.
    """
    rng = wr.rng
    paras = list(story.paragraphs)
    total = sum(p.count(" ") + 1 for p in paras)
    budget = total * (rng.uniform(0.25, 0.45) if heavy else rng.uniform(0.04, 0.13))
    headline = wr.headline() if rng.random() < 0.7 else story.headline
    credit = wr.credit() if rng.random() < 0.6 else story.credit
    if rng.random() < 0.4:
        dateline = f"{story.city}, {story.country} (AP) \u2014"
        budget -= 6
    else:
        dateline = f"{story.city}{NB if rng.random() < 0.3 else ' '}\u2013"
    ops = ["trim", "add", "words", "words"]
    for _ in range(6):
        op = rng.choice(ops)
        if op == "trim" and len(paras) > 4:
            cost = paras[-1].count(" ") + 1 + SHINGLE_K
            if cost <= budget:
                paras.pop()
                budget -= cost
        elif op == "add":
            n = rng.randint(20, 40)
            if n + SHINGLE_K <= budget:
                paras.insert(rng.randint(1, len(paras)), wr.paragraph(n))
                budget -= n + SHINGLE_K
        elif op == "words":
            m = min(int(budget // (2 * SHINGLE_K)), rng.randint(1, 4))
            for _ in range(m):
                i = rng.randrange(len(paras))
                ws = paras[i].split(" ")
                j = rng.randrange(len(ws))
                if ws[j].isalpha():
                    ws[j] = wr.draw(1)[0]
                    paras[i] = " ".join(ws)
                    budget -= 2 * SHINGLE_K
    # typography: free for matching, visible to exact byte hashes
    r = rng.random()
    if r < 0.3:
        paras = [p.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'") for p in paras]
    elif r < 0.5:
        paras = [p.replace(" the ", f" the{NB}", 2) for p in paras]
    return headline, credit, dateline, paras


def truth_path(out_dir: str | os.PathLike) -> Path:
    """The answer key of the dumps in ``out_dir``: ``<out_dir>.truth.jsonl``, beside the folder."""
    out = Path(out_dir).resolve()
    return out.with_name(out.name + ".truth.jsonl")


def generate(out_dir: str | os.PathLike, n: int, seed: int = 0, dup_rate: float = 0.3) -> dict:
    """Write ``n`` synthetic dumps under ``out_dir`` and their answer key at ``truth_path(out_dir)``.

    Args:
        out_dir: output directory (created; existing files with the same names are overwritten).
        n: number of dump files.
        seed: the same seed gives byte-identical output.
        dup_rate: share of files that are copies or edits of an earlier story.

    Returns:
        Counts: ``files``, ``stories``, ``originals``, ``exact``, ``variants``,
        ``variants_j_ge_0_8``, ``bytes``, ``seconds``.
    """
    if n < 0 or not 0.0 <= dup_rate < 1.0:
        raise ValueError("n must be >= 0 and dup_rate in [0, 1)")
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wr = _Writer(seed)
    rng = wr.rng
    per_outlet = dict.fromkeys(OUTLETS, 0)
    made_dirs: set[Path] = set()
    recent: list[_Story] = []
    counts = {"originals": 0, "exact": 0, "variants": 0, "variants_j_ge_0_8": 0, "bytes": 0}
    n_stories = 0
    with open(truth_path(out), "w", encoding="utf-8") as truth:
        for i in range(n):
            oi = rng.randrange(len(OUTLETS))
            outlet = OUTLETS[oi]
            chunk = per_outlet[outlet] // CHUNK_FILES
            per_outlet[outlet] += 1
            d = out / outlet / f"{chunk:04d}"
            if d not in made_dirs:
                d.mkdir(parents=True, exist_ok=True)
                made_dirs.add(d)
            rel = f"{outlet}/{chunk:04d}/{i:07d}.txt"
            footer = _OUTLET_FOOTERS[oi]
            jac: float | None = None
            if recent and rng.random() < dup_rate:
                orig = recent[rng.randrange(len(recent))]
                if rng.random() < 0.25:
                    kind, payload = "exact", orig.payload
                    jac = 1.0
                else:
                    kind = "variant"
                    headline, credit, dateline, paras = _edit(wr, orig, heavy=rng.random() < HEAVY_EDIT_SHARE)
                    payload = _render(headline, credit, dateline, paras, footer).encode("utf-8")
                    body = "\n\n".join([f"{dateline} {paras[0]}", *paras[1:]])
                    jac = round(_jaccard(orig.shingle_hashes(), _shingle_hashes(body)), 4)
                    counts["variants_j_ge_0_8"] += jac >= 0.8
                counts["exact" if kind == "exact" else "variants"] += 1
                sid, of = orig.sid, orig.file
            else:
                kind, of = "original", None
                sid = f"s{n_stories:07d}"
                n_stories += 1
                ci = rng.randrange(len(_CITIES))
                paras = wr.paragraphs(wr.np.integers(20, 61, size=rng.randint(8, 25)).tolist())
                headline, credit = wr.headline(), wr.credit()
                city = _CITIES[ci]
                sep = NB if rng.random() < 0.3 else " "  # wire copy puts an NBSP before the dateline dash
                payload = _render(headline, credit, f"{city}{sep}\u2013", paras, footer).encode("utf-8")
                story = _Story(sid, rel, headline, credit, city, _COUNTRIES[ci], paras, payload)
                recent.append(story)
                if len(recent) > RECENT_STORIES:
                    recent.pop(0)
                counts["originals"] += 1
            # os-level write: no buffered file object per file (100k files).
            fd = os.open(out / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
            counts["bytes"] += len(payload)
            truth.write(json.dumps({"file": rel, "story": sid, "kind": kind, "of": of, "jaccard": jac}) + "\n")
    return {"files": n, "stories": n_stories, **counts, "seconds": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="The answer key goes to OUT_DIR.truth.jsonl, beside OUT_DIR.")
    ap.add_argument("out_dir", metavar="OUT_DIR")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dup-rate", type=float, default=0.3)
    args = ap.parse_args(argv)
    stats = generate(args.out_dir, args.n, seed=args.seed, dup_rate=args.dup_rate)
    print(json.dumps(stats), file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
