"""story_links: exact and near links, verification, cluster merges and chains."""

import random

import pytest

from parsers.signature import DedupConfig, jaccard, shingles, text_hash
from parsers.story_links import StoredMatch, StoryLink, link_to_story, sign_articles

CFG = DedupConfig()
_VOCAB = (
    "minister council harbour vote budget river court school energy police market strike union "
    "farmers railway bridge hospital election mayor senate treaty border drought festival museum"
).split()


def story(seed: int, n: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_VOCAB) + str(rng.randrange(1000)) for _ in range(n)]


def edited(words: list[str], positions: list[int], tag: str) -> str:
    w = list(words)
    for p in positions:
        w[p] = f"{tag}{p}"
    return " ".join(w)


X = story(1)
BASE = " ".join(X)
A = edited(X, [10, 40, 70, 95], "a")  # J(A, BASE) ~ 0.815
B = edited(X, [105, 135, 160, 190], "b")  # J(B, BASE) ~ 0.815, J(A, B) ~ 0.66
UNRELATED = " ".join(story(2))


def plan_for(texts, stored_exact=None, hits=(), stored=None, ids=None):
    ids = ids or [f"n{i}" for i in range(len(texts))]
    new = sign_articles(ids, texts, CFG)
    return link_to_story(new, stored_exact or {}, list(hits), stored or {}, CFG)


def test_fixture_similarities_are_what_the_tests_assume():
    s = {name: shingles(t) for name, t in {"base": BASE, "a": A, "b": B}.items()}
    assert 0.8 <= jaccard(s["a"], s["base"]) < 0.85
    assert 0.8 <= jaccard(s["b"], s["base"]) < 0.85
    assert 0.6 < jaccard(s["a"], s["b"]) < 0.8


def test_exact_duplicate_within_the_batch():
    plan = plan_for([BASE, BASE, " " + BASE])
    first, second, spaced = plan.decisions
    assert first.link is None and first.cluster_id == "n0"
    assert second.link == StoryLink("n0", "exact", 1.0) and second.cluster_id == "n0"
    assert plan.counts["exact"] == 1 and plan.merges == []
    # text_hash is of the folded text as given; same shingles still link, as "near" 1.0
    assert spaced.link == StoryLink("n0", "near", 1.0)


def test_exact_duplicate_of_a_stored_article_joins_its_cluster():
    s = StoredMatch("s1", "c9", 3)
    plan = plan_for([BASE], stored_exact={text_hash(BASE): s})
    assert plan.decisions[0].link == StoryLink("s1", "exact", 1.0)
    assert plan.decisions[0].cluster_id == "c9"


def test_near_duplicate_is_linked_with_its_exact_similarity():
    plan = plan_for([BASE, A])
    d = plan.decisions[1]
    assert d.link.kind == "near" and d.link.duplicate_of == "n0" and d.cluster_id == "n0"
    assert d.link.similarity == jaccard(shingles(BASE), shingles(A))


def test_unrelated_articles_are_left_alone():
    plan = plan_for([BASE, UNRELATED])
    assert [(d.cluster_id, d.link) for d in plan.decisions] == [("n0", None), ("n1", None)]
    assert plan.counts["founded"] == 2


def test_candidate_below_threshold_is_rejected_after_verification():
    s = StoredMatch("s1", "s1", 1, folded=B)  # J(A, B) ~ 0.66: a band hit, but no duplicate
    plan = plan_for([A], hits=[(0, "s1")], stored={"s1": s})
    assert plan.decisions[0].link is None and plan.decisions[0].cluster_id == "n0"
    assert plan.counts["candidates_stored"] == 1 and plan.counts["rejected"] == 1


def test_bridge_merges_two_stored_clusters_into_the_lowest_rank():
    s_a = StoredMatch("sa", "ca", 10, folded=A)
    s_b = StoredMatch("sb", "cb", 5, folded=B)
    plan = plan_for([BASE], hits=[(0, "sa"), (0, "sb")], stored={"sa": s_a, "sb": s_b})
    d = plan.decisions[0]
    assert d.cluster_id == "cb"  # founder rank 5 < 10
    assert plan.merges == [("ca", "cb")]
    # equal similarity (same edit size): the tie goes to the lower cluster rank
    assert d.link.duplicate_of == "sb" and d.link.kind == "near"


def test_bridge_within_a_batch_merges_the_later_founder_into_the_earlier():
    plan = plan_for([A, B, BASE])
    a, b, base = plan.decisions
    assert a.link is None and b.link is None  # J(A, B) ~ 0.66: B founded its own cluster
    assert base.link.duplicate_of == "n0"  # tie between A and B -> the earlier
    assert {a.cluster_id, b.cluster_id, base.cluster_id} == {"n0"}
    assert plan.merges == [("n1", "n0")]


def test_chain_across_store_and_batch_keeps_the_stored_founder():
    stored = {"s": StoredMatch("s", "s", 7, folded=A)}
    # n0 = B founds (below threshold to A); n1 = BASE bridges the stored A and n0
    plan = plan_for([B, BASE], hits=[(1, "s")], stored=stored)
    assert [d.cluster_id for d in plan.decisions] == ["s", "s"]
    assert plan.merges == [("n0", "s")]
    # a chain inside one batch: each links to the previous, one cluster
    chain = [edited(X, list(range(5, 5 + 4 * i, 4)), "c") for i in range(4)]
    plan = plan_for(chain)
    assert [d.cluster_id for d in plan.decisions] == ["n0"] * 4
    assert all(d.link.kind in ("exact", "near") for d in plan.decisions[1:])


def test_empty_texts_are_never_duplicates():
    plan = plan_for(["", "  ", BASE])
    assert [d.link for d in plan.decisions] == [None, None, None]
    assert [d.cluster_id for d in plan.decisions] == ["n0", "n1", "n2"]


def test_bad_inputs_fail_fast():
    with pytest.raises(ValueError, match="no folded text"):
        plan_for([A], hits=[(0, "ghost")])
    with pytest.raises(ValueError, match="batch has 1 articles"):
        plan_for([A], hits=[(3, "s")], stored={"s": StoredMatch("s", "s", 1, folded=A)})
    with pytest.raises(ValueError, match="unique"):
        plan_for([A, B], ids=["x", "x"])


def test_ties_prefer_the_earlier_stored_article_and_plan_lists_align():
    stored = {
        "late": StoredMatch("late", "c1", 1, folded=A, seq=9),
        "early": StoredMatch("early", "c1", 1, folded=A, seq=4),
    }
    plan = plan_for([A, UNRELATED], hits=[(0, "late"), (0, "early")], stored=stored)
    assert plan.links[0] == StoryLink("early", "near", 1.0)
    assert plan.cluster_ids == ["c1", "n1"] and plan.links[1] is None
