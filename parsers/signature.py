"""MinHash signatures, LSH band keys and exact Jaccard for near-duplicate detection.

Stages (datatrove style): **sign** (``sign_many``) -> **band** (``band_keys``, the keys of
the persistent LSH index) -> candidates -> **verify** (``jaccard`` on shingle sets) ->
link to a story (``parsers/story_links.py``). All functions are pure and take already
folded text (``parsers.normalize.fold_for_matching``: lower-cased, punctuation deleted,
words joined by one space).

Estimator. For sets A, B and a random permutation pi of the shingle universe,
P[min pi(A) == min pi(B)] = J(A, B) = |A & B| / |A | B|. A signature is the minimum of
``num_perm`` independent permutations, so the fraction of equal positions estimates J with
standard error sqrt(J (1 - J) / num_perm) (0.035 at J = 0.8, num_perm = 128). The
estimate only ever chooses *candidates*: every link is decided by the exact Jaccard of the
shingle sets, so precision does not depend on it.

Banding. The first ``bands * rows`` values are cut into ``bands`` bands of ``rows``
values; two articles are candidates when any band is equal. With per-position agreement
probability J: P(candidate | J) = 1 - (1 - J**rows) ** bands (see ``DedupConfig``).

What must be pinned (and is stored with the signatures, see ``DedupConfig.to_dict``):
the shingle size, the permutation scheme and seed (datasketch >= 2.0 defaults to
``"affine32"``; earlier versions used ``"legacy"`` -- the values differ), the shingle hash
function, ``num_perm``, and bands x rows for the band keys. Signatures or band keys made
under a different config are meaningless together; ``DedupConfig.require_compatible``
refuses them.

Shingle hash. ``hash="polymix32"`` (default) is a polynomial hash of the shingle's UTF-8
bytes, computed for all shingles of a batch at once with numpy prefix sums (no Python
loop per shingle):

    h64 = sum_j (byte_j + 1) * P**j  mod 2**64,  P = 0x9E3779B97F4A7C15
    polymix32(shingle) = fmix64(h64) >> 32        (MurmurHash3 64-bit finalizer)

``hash="sha1_32"`` is datasketch's default ``sha1_hash32`` (a Python loop over shingles,
about 4x slower end to end). Either way the permutations are datasketch's own:
``sign_many`` equals ``MinHash(num_perm, seed, scheme, hashfunc).update_batch(shingles)``
value for value (tested), with ``hashfunc = polymix32`` or ``sha1_hash32``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

SCHEME = "affine32"  # the only scheme whose values fit our uint32 signatures
HASHES = ("polymix32", "sha1_32")
MAX_HASH = np.uint32(0xFFFFFFFF)  # datasketch's empty-MinHash value; an empty text's signature

# polymix32 constants (pinned: changing any of them changes every signature)
_POLY_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2**64
_POLY_BASE_INV = pow(_POLY_BASE, -1, 1 << 64)
_M64 = (1 << 64) - 1

# band-key mixing constants (pinned: changing them changes every stored band key)
_BAND_SALT = np.uint64(0xD6E8FEB86659FD93)
_BAND_MULT = np.uint64(0x9FB21C651E98DF25)

_SPACE, _DOC_SEP = 0x20, 0x0A  # folded words are joined by one space; docs by "\n" in a batch
_CHUNK_ROWS = 16384  # shingles per permutation block: 128 x 16384 x 4 B = 8 MiB
_GROUP_DOCS = 64  # articles hashed together


def recall_at(j: float, bands: int, rows: int) -> float:
    """P(candidate | J = j) = 1 - (1 - j**rows) ** bands for LSH with bands x rows."""
    return 1.0 - (1.0 - j**rows) ** bands


@dataclass(frozen=True)
class DedupConfig:
    """The pinned near-duplicate configuration, stored with the signatures.

    Attributes:
        threshold: exact Jaccard of word-shingle sets at or above which two articles are
            near duplicates (the verification bar; the banding is tuned for it).
        num_perm: MinHash permutations = signature length.
        shingle_size: words per shingle (k).
        seed: datasketch permutation seed.
        scheme: datasketch permutation scheme; only ``"affine32"`` is supported.
        hash: shingle hash, ``"polymix32"`` (fast, default) or ``"sha1_32"`` (datasketch's).
        bands, rows: LSH banding; ``None`` means chosen by ``for_threshold`` math
            (25 x 5 for 0.8 / 128).

    Raises:
        ValueError: for an out-of-range argument, with how to fix it.
    """

    threshold: float = 0.8
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    scheme: str = SCHEME
    hash: str = "polymix32"
    bands: int | None = None
    rows: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, (int, float)) or not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}; 0.8 is typical")
        if not isinstance(self.num_perm, int) or self.num_perm < 1:
            raise ValueError(f"num_perm must be a positive int, got {self.num_perm!r}; use 128")
        if not isinstance(self.shingle_size, int) or self.shingle_size < 1:
            raise ValueError(f"shingle_size must be a positive int, got {self.shingle_size!r}; use 5")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32), got {self.seed!r}")
        if self.scheme != SCHEME:
            raise ValueError(
                f"scheme {self.scheme!r} is not supported: signatures are uint32, use scheme='affine32' "
                "(datasketch's 2.0 default; 'legacy' sketches must be re-signed)"
            )
        if self.hash not in HASHES:
            raise ValueError(f"hash must be one of {HASHES}, got {self.hash!r}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they are chosen for the threshold)")
        if self.bands is None:
            bands, rows = choose_banding(self.threshold, self.num_perm)
            object.__setattr__(self, "bands", bands)
            object.__setattr__(self, "rows", rows)
        if not isinstance(self.bands, int) or not isinstance(self.rows, int) or self.bands < 1 or self.rows < 1:
            raise ValueError(f"bands and rows must be positive ints, got {self.bands!r} x {self.rows!r}")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}; "
                f"use fewer bands (at most {self.num_perm // self.rows} for rows={self.rows}) "
                "or DedupConfig.for_threshold()"
            )

    @classmethod
    def for_threshold(
        cls,
        threshold: float = 0.8,
        num_perm: int = 128,
        *,
        min_recall: float = 0.999,
        shingle_size: int = 5,
        seed: int = 1,
        hash: str = "polymix32",
    ) -> DedupConfig:
        """A config whose banding finds pairs at the threshold with ``min_recall``.

        Math: a band of r rows agrees with probability J**r, so with b bands
        P(candidate | J) = 1 - (1 - J**r)**b, increasing in b and decreasing in r. We take
        the LARGEST r (fewest spurious candidates) such that with b = num_perm // r the
        recall at the threshold is >= min_recall; candidates are then verified exactly,
        so extra candidates cost CPU, never precision. For 0.8 / 128 / 0.999:

            r = 5, b = 25:  P(cand | 0.8) = 0.99995,  P(cand | 0.5) = 0.548,
                            P(cand | 0.3) = 0.059,    P(cand | 0.1) = 0.00025
            r = 6, b = 21:  P(cand | 0.8) = 0.9983 < 0.999 (rejected)
            datasketch's default for 0.8 (it weighs false positives too), b = 9, r = 13:
                            P(cand | 0.8) = 0.40,  P(cand | 0.9) = 0.93 -- it misses most
                            edited copies at the threshold.

        Raises:
            ValueError: if even r = 1 cannot reach min_recall (raise num_perm or lower
                min_recall), or for a bad argument.
        """
        if not 0.0 < min_recall < 1.0:
            raise ValueError(f"min_recall must be in (0, 1), got {min_recall!r}; 0.999 is typical")
        bands, rows = choose_banding(threshold, num_perm, min_recall)
        return cls(threshold=threshold, num_perm=num_perm, shingle_size=shingle_size, seed=seed,
                   hash=hash, bands=bands, rows=rows)

    def recall_at(self, j: float) -> float:
        """P(two articles with Jaccard j share a band) under this banding."""
        return recall_at(j, self.bands, self.rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for storage (JSON-safe); ``from_dict`` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DedupConfig:
        """Rebuild a stored config. Raises ValueError on unknown or missing fields."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown DedupConfig fields {sorted(unknown)}; stored by a newer version?")
        missing = names - set(d)
        if missing:
            raise ValueError(f"stored DedupConfig lacks {sorted(missing)}; cannot trust its signatures")
        return cls(**d)

    def differences(self, other: DedupConfig) -> dict[str, tuple[Any, Any]]:
        """Fields that make signatures or band keys incomparable: {name: (self, other)}.

        ``threshold`` alone is not one: it only changes the verification bar.
        """
        keys = ("num_perm", "shingle_size", "seed", "scheme", "hash", "bands", "rows")
        return {k: (getattr(self, k), getattr(other, k)) for k in keys if getattr(self, k) != getattr(other, k)}

    def compatible_with(self, other: DedupConfig) -> bool:
        """True when signatures and band keys made under ``other`` compare with ours."""
        return not self.differences(other)

    def require_compatible(self, other: DedupConfig) -> None:
        """Raise ValueError naming the differing fields if ``other`` is not compatible."""
        diff = self.differences(other)
        if diff:
            detail = ", ".join(f"{k}: {a!r} != {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"signatures were made with a different dedup config ({detail}); re-sign the stored "
                "articles with the new config or keep the stored one"
            )


def choose_banding(threshold: float, num_perm: int, min_recall: float = 0.999) -> tuple[int, int]:
    """(bands, rows): the largest rows with recall(threshold) >= min_recall, bands = num_perm // rows.

    See ``DedupConfig.for_threshold`` for the math. Raises ValueError if no banding reaches it.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be positive, got {num_perm!r}")
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if recall_at(threshold, bands, rows) >= min_recall:
            return bands, rows
    raise ValueError(
        f"no banding of {num_perm} permutations reaches recall {min_recall} at Jaccard {threshold} "
        f"(best {recall_at(threshold, num_perm, 1):.4f} with rows=1); raise num_perm or lower min_recall"
    )


DEFAULT_CONFIG = DedupConfig()


# --- shingles and exact Jaccard ------------------------------------------------------------


def shingles(folded: str, k: int = 5) -> set[str]:
    """Set of word k-grams of folded text, each joined by one space.

    Exactly ``../shared/bench/dedup/shingles.py``: under k words -> one shingle of all the
    words; no words -> the empty set (never a duplicate of anything).
    """
    w = folded.split()
    if len(w) < k:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard |a & b| / |a | b|; 0.0 if either set is empty."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float | np.ndarray:
    """MinHash estimate of Jaccard: the fraction of equal signature positions.

    Broadcasts (one row against many gives an array). An empty text's signature (all
    ``MAX_HASH``) estimates 0.0 against anything, like ``jaccard`` on an empty set.
    Raises ValueError if the lengths differ (different ``num_perm``).
    """
    a, b = np.asarray(sig_a), np.asarray(sig_b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"signatures of different length ({a.shape[-1]} vs {b.shape[-1]}): different num_perm")
    est = np.mean(a == b, axis=-1)
    empty = np.all(a == MAX_HASH, axis=-1) | np.all(b == MAX_HASH, axis=-1)
    est = np.where(empty, 0.0, est)
    return float(est) if est.ndim == 0 else est


def text_hash(folded: str) -> str:
    """Exact-duplicate key: first 16 hex chars of sha256 of the folded text (UTF-8)."""
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:16]


def is_empty_signature(signatures: np.ndarray) -> np.ndarray | bool:
    """True for rows signed from text without words (all ``MAX_HASH``).

    Such rows must not be put into or looked up in the LSH index: they would all share
    every band key.
    """
    res = np.all(np.asarray(signatures) == MAX_HASH, axis=-1)
    return bool(res) if res.ndim == 0 else res


# --- shingle hashes ---------------------------------------------------------------------------


def polymix32(data: bytes) -> int:
    """The pinned ``"polymix32"`` shingle hash of one shingle's UTF-8 bytes (pure Python).

    Reference for the vectorized path in ``sign_many`` and usable as datasketch's
    ``hashfunc``: ``MinHash(..., hashfunc=polymix32)`` gives identical signatures.
    """
    h, p = 0, 1
    for byte in data:
        h = (h + (byte + 1) * p) & _M64
        p = (p * _POLY_BASE) & _M64
    return _fmix64_int(h) >> 32


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def _fmix64(h: np.ndarray) -> np.ndarray:
    # MurmurHash3 finalizer on uint64 arrays; multiplication wraps mod 2**64 as intended
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def _fmix32(h: np.ndarray) -> np.ndarray:
    # datasketch's affine32 pre-mix (datasketch.minhash._fmix with width 32), in place
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


_pow_cache: list[tuple[np.ndarray, np.ndarray]] = []  # one (P**j, P**-j) pair, replaced whole


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**j and P**-j mod 2**64 for j < n (cached; grown to the next power of two)."""
    if not _pow_cache or len(_pow_cache[0][0]) < n:
        size = 1 << max(12, (n - 1).bit_length())
        fwd = np.full(size, _POLY_BASE, dtype=np.uint64)
        inv = np.full(size, _POLY_BASE_INV, dtype=np.uint64)
        fwd[0] = inv[0] = 1
        _pow_cache[:] = [(np.cumprod(fwd, dtype=np.uint64), np.cumprod(inv, dtype=np.uint64))]
    fwd, inv = _pow_cache[0]
    return fwd[:n], inv[:n]


def _shingle_spans(buf: np.ndarray, n_docs: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte spans [start, end) of every word k-gram in a "\\n"-joined batch of canonical texts.

    Canonical text = words joined by ONE space, so a shingle is exactly the substring from
    its first word's start to its last word's end. Returns (starts, ends, counts per doc),
    shingles in document order.
    """
    boundary = (buf == _SPACE) | (buf == _DOC_SEP)
    pad = np.empty(len(buf) + 2, dtype=bool)
    pad[0] = pad[-1] = True
    pad[1:-1] = boundary
    inside = ~boundary
    w_start = np.flatnonzero(inside & pad[:-2])
    w_end = np.flatnonzero(inside & pad[2:]) + 1
    seps = np.flatnonzero(buf == _DOC_SEP)
    doc = np.searchsorted(seps, w_start)  # doc index of every word
    n_words = np.bincount(doc, minlength=n_docs)
    first = np.zeros(n_docs, dtype=np.int64)
    np.cumsum(n_words[:-1], out=first[1:])
    # a doc of nw >= 1 words has max(nw - k + 1, 1) shingles, each span ending at word
    # w + min(k, nw) - 1; under k words the single shingle is all the words
    width = np.minimum(n_words, k)[doc]
    local = np.arange(len(w_start)) - first[doc]
    keep = local <= (n_words[doc] - width)
    idx = np.flatnonzero(keep)
    starts = w_start[idx]
    ends = w_end[idx + width[idx] - 1]
    counts = np.where(n_words > 0, np.maximum(n_words - k + 1, 1), 0)
    return starts, ends, counts


def _polymix32_spans(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """polymix32 of every span of buf, vectorized with a prefix sum of (byte + 1) * P**j.

    Powers run over the whole buffer (j = position in buf): the sum over [s, e) is then
    P**s times the span's own hash, re-based with P**-s (P is odd, so invertible mod 2**64).
    """
    return (_polymix64_spans(buf, starts, ends) >> np.uint64(32)).astype(np.uint32)


def _polymix64_spans(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The full 64-bit hash of every span (``_polymix32_spans`` keeps its top 32 bits)."""
    fwd, inv = _powers(len(buf))
    prefix = np.zeros(len(buf) + 1, dtype=np.uint64)
    terms = buf.astype(np.uint64)
    terms += np.uint64(1)
    terms *= fwd
    np.cumsum(terms, dtype=np.uint64, out=prefix[1:])
    h64 = prefix[ends]
    h64 -= prefix[starts]
    h64 *= inv[starts]
    return _fmix64(h64)


def shingle_hash_sets(folded_texts: list[str], k: int = 5) -> list[np.ndarray]:
    """Each text's set of word k-gram shingles as sorted unique 64-bit hashes.

    For verifying candidates: ``|A & B| / |A | B|`` on these arrays equals the exact Jaccard of
    ``shingles()`` unless two different shingles of the pair share a 64-bit hash (about
    |A|·|B| / 2**64, i.e. never in practice), at a fraction of the cost of string sets.
    """
    out: list[np.ndarray] = []
    for g0 in range(0, len(folded_texts), _GROUP_DOCS):
        canon = [t if _is_canonical(t) else " ".join(t.split()) for t in folded_texts[g0 : g0 + _GROUP_DOCS]]
        buf = np.frombuffer("\n".join(canon).encode("utf-8"), dtype=np.uint8)
        starts, ends, counts = _shingle_spans(buf, len(canon), k)
        h = _polymix64_spans(buf, starts, ends)
        for part in np.split(h, np.cumsum(counts)[:-1]):
            out.append(np.unique(part))
    return out


def hashed_jaccard(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """(intersection, union) sizes of two sorted unique hash arrays."""
    inter = int(np.intersect1d(a, b, assume_unique=True).size)
    return inter, int(a.size + b.size - inter)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """datasketch 2.0's ``MinHash(num_perm, seed, scheme="affine32").permutations``, drawn the
    way it draws them (tests/test_signature.py checks they are equal). Importing datasketch
    imports scipy (its LSH module), 0.47 s of every run's start-up, for these two arrays."""
    if scheme != "affine32":
        raise ValueError(f"only the affine32 scheme is supported, got {scheme!r}")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def sign_many(folded_texts: list[str], config: DedupConfig) -> np.ndarray:
    """MinHash signatures of folded texts, one row each.

    Args:
        folded_texts: texts folded by ``fold_for_matching`` (any whitespace is re-collapsed
            here, so the shingles are exactly ``shingles(text, config.shingle_size)``).
        config: the pinned config (num_perm, seed, scheme, shingle_size, hash).

    Returns:
        uint32 array (len(folded_texts), num_perm), equal to datasketch's
        ``MinHash(num_perm, seed, scheme="affine32", hashfunc=H).update_batch(
        [s.encode() for s in shingles(text)]).hashvalues`` with H = ``polymix32`` or
        ``sha1_hash32`` per ``config.hash``. A text without words gets all ``MAX_HASH``
        (datasketch's empty MinHash); see ``is_empty_signature``.

    How: the batch is joined into one byte buffer; shingle hashes come from one vectorized
    pass (polymix32) or a loop of sha1 (sha1_32); datasketch's pre-mix and permutations
    a*h+b mod 2**32 are applied as a (shingles x num_perm) block and reduced per document
    with ``np.minimum.reduceat``.
    """
    n, k = len(folded_texts), config.shingle_size
    out = np.full((n, config.num_perm), MAX_HASH, dtype=np.uint32)
    if n == 0:
        return out
    a, b = _permutations(config.num_perm, config.seed, config.scheme)
    # groups of ~64 articles keep the working set (bytes, prefix sums, the permutation
    # block) in cache: one 2,000-article call is ~3x slower per article than 64-article groups
    for g0 in range(0, n, _GROUP_DOCS):
        canon = [t if _is_canonical(t) else " ".join(t.split()) for t in folded_texts[g0 : g0 + _GROUP_DOCS]]
        if config.hash == "polymix32":
            buf = np.frombuffer("\n".join(canon).encode("utf-8"), dtype=np.uint8)
            starts, ends, counts = _shingle_spans(buf, len(canon), k)
            hv = _polymix32_spans(buf, starts, ends)
        else:
            hv_parts, counts = [], np.zeros(len(canon), dtype=np.int64)
            for i, t in enumerate(canon):
                sh = shingles(t, k)
                counts[i] = len(sh)
                hv_parts.append(b"".join(hashlib.sha1(s.encode("utf-8")).digest()[:4] for s in sh))
            hv = np.frombuffer(b"".join(hv_parts), dtype="<u4").astype(np.uint32)
        _apply_permutations(_fmix32(hv), counts, out[g0 : g0 + len(canon)], a, b)
    return out


def sign_with_shingles(folded_texts: list[str], config: DedupConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(sign_many(texts, config), shingle_hash_sets(texts, config.shingle_size))`` in one pass.

    With the polymix32 hash the signature's 32-bit shingle hash is the top half of the 64-bit
    one kept for verification, so the shingle spans and hashes are computed once for both
    (every article needs both: the signature for LSH, the hash set to verify candidates).
    """
    n, k = len(folded_texts), config.shingle_size
    if config.hash != "polymix32":
        return sign_many(folded_texts, config), shingle_hash_sets(folded_texts, k)
    out = np.full((n, config.num_perm), MAX_HASH, dtype=np.uint32)
    sets: list[np.ndarray] = []
    a, b = _permutations(config.num_perm, config.seed, config.scheme)
    for g0 in range(0, n, _GROUP_DOCS):
        canon = [t if _is_canonical(t) else " ".join(t.split()) for t in folded_texts[g0 : g0 + _GROUP_DOCS]]
        buf = np.frombuffer("\n".join(canon).encode("utf-8"), dtype=np.uint8)
        starts, ends, counts = _shingle_spans(buf, len(canon), k)
        h64 = _polymix64_spans(buf, starts, ends)
        hv = (h64 >> np.uint64(32)).astype(np.uint32)
        _apply_permutations(_fmix32(hv), counts, out[g0 : g0 + len(canon)], a, b)
        sets.extend(np.unique(part) for part in np.split(h64, np.cumsum(counts)[:-1]))
    return out, sets


def _is_canonical(text: str) -> bool:
    """Words joined by one space (what ``fold_for_matching`` returns): ``" ".join(text.split())
    == text``. Every whitespace character but the space is non-printable."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def _apply_permutations(hv: np.ndarray, counts: np.ndarray, out: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """out[d] = min over doc d's rows of a * hv + b (uint32, wraps), in blocks of shingles.

    The block is laid out (num_perm, shingles) so that ``np.minimum.reduceat`` runs along
    the contiguous axis (about 15x faster than reducing (shingles, num_perm) along axis 0).
    """
    row_doc = np.repeat(np.arange(len(counts)), counts)
    block = np.empty((len(a), min(_CHUNK_ROWS, len(hv))), dtype=np.uint32)
    for r0 in range(0, len(hv), _CHUNK_ROWS):
        cols = hv[r0 : r0 + _CHUNK_ROWS]
        m = block[:, : len(cols)]
        np.multiply(a[:, None], cols[None, :], out=m)
        m += b[:, None]
        docs_here = row_doc[r0 : r0 + len(cols)]
        seg = np.flatnonzero(np.diff(docs_here, prepend=-1))
        docs = docs_here[seg]
        out[docs] = np.minimum(out[docs], np.minimum.reduceat(m, seg, axis=1).T)


# --- LSH band keys ------------------------------------------------------------------------------


def band_keys(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """One int64 key per (row, band): a 64-bit hash of (band index, the band's rows values).

    Two rows share key j exactly when band j of their signatures is equal (up to 64-bit
    hash collisions, ~n**2 / 2**65). The band index is mixed in, so one index column holds
    all bands. Deterministic across processes and machines (no Python ``hash()``).

    Args:
        signatures: uint32 (n, num_perm) from ``sign_many``.
        config: gives bands x rows; the first bands * rows values are used.

    Returns:
        int64 array (n, bands) (signed, to fit DuckDB BIGINT). Rows of
        ``is_empty_signature`` get keys too but must not be indexed.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2 or sig.shape[1] != config.num_perm:
        raise ValueError(f"signatures must have shape (n, {config.num_perm}), got {sig.shape}")
    b, r = config.bands, config.rows
    vals = sig[:, : b * r].astype(np.uint64).reshape(len(sig), b, r)
    h = np.broadcast_to((np.arange(b, dtype=np.uint64) + np.uint64(1)) * _BAND_SALT, (len(sig), b)).copy()
    for j in range(r):  # FNV-style on 32-bit words, then a full avalanche
        h ^= vals[:, :, j]
        h *= _BAND_MULT
    return _fmix64(h).view(np.int64)


def exact_threshold_met(inter: int, union: int, threshold: float) -> bool:
    """inter / union >= threshold, with the scorer's 1e-12 slack for float rounding."""
    return union > 0 and inter / union >= threshold - 1e-12


__all__ = [
    "DEFAULT_CONFIG",
    "DedupConfig",
    "MAX_HASH",
    "band_keys",
    "choose_banding",
    "estimate_jaccard",
    "exact_threshold_met",
    "is_empty_signature",
    "jaccard",
    "polymix32",
    "recall_at",
    "shingles",
    "sign_many",
    "sign_with_shingles",
    "text_hash",
]

