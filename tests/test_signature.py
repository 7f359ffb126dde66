"""signature: banding math, datasketch-identical signatures, stable band keys, config pinning."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.signature import (
    MAX_HASH,
    DedupConfig,
    band_keys,
    choose_banding,
    estimate_jaccard,
    is_empty_signature,
    jaccard,
    polymix32,
    recall_at,
    shingle_hash_sets,
    shingles,
    sign_many,
    sign_with_shingles,
    text_hash,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DEDUP = ROOT.parent / "shared" / "bench" / "dedup"

STORY = (
    "the bank of england held interest rates at 475% on thursday as policymakers weighed "
    "signs that the housing market was cooling against a pick up in consumer spending "
    "analysts had expected no change after a run of five rises since november 2003"
)
TEXTS = [
    STORY,
    STORY.replace("thursday", "wednesday"),
    "",
    "   ",
    "one",
    "four words in here",
    "exactly five words right here",
    "café £10 naïve — ünïcode words über alles ok",
    "tabs\tand\nnewlines  collapse   here too fine",
]


def datasketch_signature(folded: str, config: DedupConfig, hashfunc) -> np.ndarray:
    m = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme, hashfunc=hashfunc)
    m.update_batch([s.encode("utf-8") for s in shingles(folded, config.shingle_size)])
    return m.hashvalues


# --- banding math -------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.85, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_banding_reaches_recall_at_threshold_with_the_largest_rows(threshold, num_perm):
    cfg = DedupConfig.for_threshold(threshold, num_perm, min_recall=0.999)
    assert cfg.bands * cfg.rows <= num_perm
    assert cfg.bands == num_perm // cfg.rows
    assert cfg.recall_at(threshold) >= 0.999
    r = cfg.rows + 1  # one more row per band would drop below the target
    assert r > num_perm or recall_at(threshold, num_perm // r, r) < 0.999


def test_default_banding_is_25x5_and_beats_datasketch_default_at_the_threshold():
    cfg = DedupConfig()
    assert (cfg.bands, cfg.rows) == (25, 5) == choose_banding(0.8, 128)
    assert cfg.recall_at(0.8) > 0.9999
    assert recall_at(0.8, 9, 13) < 0.41  # datasketch MinHashLSH(0.8, 128) picks 9 x 13
    assert 0.5 < cfg.recall_at(0.5) < 0.6
    assert cfg.recall_at(0.1) < 0.001


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 0.0}, "threshold must be in"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"num_perm": 0}, "num_perm must be"),
        ({"bands": 30, "rows": 5}, "exceeds num_perm"),
        ({"bands": 30}, "give both bands and rows"),
        ({"scheme": "legacy"}, "use scheme='affine32'"),
        ({"hash": "md5"}, "hash must be one of"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_config_fails_fast_and_says_how_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupConfig(**kwargs)


def test_unreachable_recall_is_refused():
    with pytest.raises(ValueError, match="raise num_perm"):
        DedupConfig.for_threshold(0.1, 4, min_recall=0.9999)


def test_config_round_trips_and_refuses_different_signing():
    cfg = DedupConfig()
    assert DedupConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.compatible_with(DedupConfig(threshold=0.85, bands=25, rows=5))  # verification bar only
    other = DedupConfig(seed=2)
    assert not cfg.compatible_with(other)
    with pytest.raises(ValueError, match="seed: 1 != 2"):
        cfg.require_compatible(other)
    with pytest.raises(ValueError, match="unknown DedupConfig fields"):
        DedupConfig.from_dict({**cfg.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="lacks"):
        DedupConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "scheme"})


# --- shingles, signatures -----------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_DEDUP.is_dir(), reason="shared bench not checked out")
@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab c.\u00e9\u2014\n'\u00a3"), max_size=60))
def test_shingles_match_the_benchmark_definition(text):
    sys.path.insert(0, str(SHARED_DEDUP))
    import shingles as bench  # noqa: PLC0415

    assert shingles(bench.normalized_text(text)) == bench.shingles(text)


@pytest.mark.parametrize("hash_name, hashfunc", [("polymix32", polymix32), ("sha1_32", sha1_hash32)])
def test_signatures_equal_datasketch_update_batch(hash_name, hashfunc):
    cfg = DedupConfig(hash=hash_name)
    sigs = sign_many(TEXTS, cfg)
    assert sigs.shape == (len(TEXTS), 128) and sigs.dtype == np.uint32
    for text, sig in zip(TEXTS, sigs):
        assert np.array_equal(sig, datasketch_signature(text, cfg, hashfunc)), text


def test_signatures_do_not_depend_on_batching_and_cross_block_boundaries():
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(3000)]
    long_doc = " ".join(rng.choice(vocab, 20_000))  # > one 16,384-shingle permutation block
    texts = [STORY, long_doc, "", STORY] * 20  # > one 64-article hashing group
    cfg = DedupConfig()
    together = sign_many(texts, cfg)
    assert np.array_equal(together[1], datasketch_signature(long_doc, cfg, polymix32))
    for i in (0, 1, 2, 77):
        assert np.array_equal(together[i], sign_many([texts[i]], cfg)[0])


@pytest.mark.parametrize("hash_name", ["polymix32", "sha1_32"])
def test_one_pass_signing_equals_signatures_plus_shingle_hash_sets(hash_name):
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(500)]
    texts = [STORY, "", "one two", " ".join(rng.choice(vocab, 5_000)), "tab\tand  spaces  here ok"] + list(TEXTS)
    texts = texts * 15  # > one 64-article group
    cfg = DedupConfig(hash=hash_name)
    sigs, sets = sign_with_shingles(texts, cfg)
    assert np.array_equal(sigs, sign_many(texts, cfg))
    expected = shingle_hash_sets(texts, cfg.shingle_size)
    assert len(sets) == len(expected) and all(np.array_equal(a, b) for a, b in zip(sets, expected))


def test_empty_text_signature_is_all_max_and_matches_nothing():
    sigs = sign_many(["", "   ", STORY], DedupConfig())
    assert (sigs[0] == MAX_HASH).all()
    assert is_empty_signature(sigs).tolist() == [True, True, False]
    assert estimate_jaccard(sigs[0], sigs[1]) == 0.0
    assert shingles("") == set() and jaccard(set(), set()) == 0.0


def test_estimate_tracks_exact_jaccard():
    a = STORY
    b = STORY.replace("thursday", "wednesday").replace("cooling", "slowing")
    exact = jaccard(shingles(a), shingles(b))
    est = estimate_jaccard(*sign_many([a, b], DedupConfig()))
    assert abs(est - exact) < 0.15  # 3 standard errors at num_perm = 128
    with pytest.raises(ValueError, match="different num_perm"):
        estimate_jaccard(np.zeros(128, np.uint32), np.zeros(64, np.uint32))


def test_text_hash_is_sha256_prefix():
    assert text_hash("hello world") == "b94d27b9934d3e08"


# --- band keys ----------------------------------------------------------------------------------

# Pinned: stored band keys are looked up by later runs. If these change, every
# stored LSH key changes too -- bump the config/migrate instead.
GOLDEN_SIG_0_4 = [284666717, 263728985, 623438283, 85603988]
GOLDEN_KEYS_0_3 = [5529830650366762467, 4898364805303485487, -4994306114574382750]


def test_band_keys_are_pinned_int64_and_follow_band_equality():
    cfg = DedupConfig()
    sigs = sign_many(["the quick brown fox jumps over the lazy dog", STORY], cfg)
    keys = band_keys(sigs, cfg)
    assert keys.shape == (2, 25) and keys.dtype == np.int64
    assert sigs[0, :4].tolist() == GOLDEN_SIG_0_4
    assert keys[0, :3].tolist() == GOLDEN_KEYS_0_3
    # equal band -> equal key; the band index is part of the key
    twin = sigs[1].copy()
    twin[5:] = 7  # only band 0 (values 0..4) kept
    k2 = band_keys(np.stack([sigs[1], twin]), cfg)
    assert k2[0, 0] == k2[1, 0] and (k2[0, 1:] != k2[1, 1:]).all()
    same_values = np.full((1, 128), 3, dtype=np.uint32)
    assert len(set(band_keys(same_values, cfg)[0].tolist())) == 25
    with pytest.raises(ValueError, match="shape"):
        band_keys(sigs[:, :64], cfg)


def test_band_keys_are_the_same_in_another_process():
    code = (
        "from parsers.signature import *; c = DedupConfig(); "
        "print(band_keys(sign_many(['the quick brown fox jumps over the lazy dog'], c), c)[0, :3].tolist())"
    )
    env = {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(GOLDEN_KEYS_0_3)


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (128, 42), (256, 7), (16, 0)])
def test_permutations_are_datasketchs_own(num_perm, seed):
    """Drawn without importing datasketch (its scipy import costs every run 0.47 s), and equal
    to what datasketch 2.0 draws for the same settings."""
    from datasketch import MinHash

    from parsers.signature import _permutations

    a, b = _permutations(num_perm, seed, "affine32")
    expected = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    assert a.dtype == np.uint32 and np.array_equal(a, expected[0]) and np.array_equal(b, expected[1])
