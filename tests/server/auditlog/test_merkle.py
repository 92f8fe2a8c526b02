"""Tests for the Cordon audit-log Merkle tree: edge cases, persistence and RFC properties.

Edge cases follow transparency-dev/merkle's proof/verify_test.go; the property checks compare
the iterative implementation with a direct transcription of RFC 9162's recursive definitions
for every tree up to 64 leaves and for a few large trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from server.auditlog import merkle
from server.auditlog.merkle import (
    EMPTY_ROOT,
    CompactTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from tests.server.auditlog.merkle_vectors import FRONTIERS, LEAVES, ROOTS, SOME_HASH, n

# --- Argument checks (proof/proof_test.go error cases) ----------------------------------------


@pytest.mark.parametrize(("size", "index"), [(0, 0), (0, 1), (1, 2), (0, 3), (7, 8), (7, -1)])
def test_inclusion_proof_rejects_bad_arguments(size: int, index: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(LEAVES, index, size)


@pytest.mark.parametrize(("old", "new"), [(5, 0), (9, 8), (-1, 3), (3, 9)])
def test_consistency_proof_rejects_bad_arguments(old: int, new: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        consistency_proof(LEAVES, old, new)


def test_inclusion_proof_rejects_size_beyond_leaves() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(LEAVES[:3], 0, 4)


# --- Verification edge cases from proof/verify_test.go ------------------------------------------

# TestVerifyInclusionSingleEntry: the root of a one-leaf tree is the leaf hash itself.
DATA_HASH = leaf_hash(b"data")


@pytest.mark.parametrize(
    ("root", "leaf", "ok"),
    [
        (DATA_HASH, DATA_HASH, True),
        (DATA_HASH, b"", False),
        (b"", DATA_HASH, False),
        (b"", b"", False),
    ],
)
def test_verify_inclusion_single_entry(root: bytes, leaf: bytes, ok: bool) -> None:
    if ok:
        verify_inclusion(leaf, 0, 1, [], root)
    else:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1), (-1, 1)])
def test_verify_inclusion_rejects_bad_probes(index: int, size: int) -> None:
    # TestVerifyInclusion: no combination of these leaves/roots and an empty proof verifies.
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [], root)


def test_verify_inclusion_messages() -> None:
    proof = inclusion_proof(LEAVES, 1, 5)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(LEAVES[1], 5, 5, proof, ROOTS[5])
    with pytest.raises(ProofError, match="wrong proof length"):
        verify_inclusion(LEAVES[1], 1, 5, proof[:-1], ROOTS[5])
    with pytest.raises(ProofError, match="wrong root"):
        verify_inclusion(LEAVES[1], 1, 5, proof, ROOTS[4])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(LEAVES[1], 1, 5, [*proof[:-1], b"short"], ROOTS[5])


# TestVerifyConsistency. The Go test uses 12-byte "don't care" roots; Cordon insists on 32-byte
# hashes, so the don't-care roots here are digests instead.
CARE1 = hashlib.sha256(b"don't care 1").digest()
CARE2 = hashlib.sha256(b"don't care 2").digest()


@pytest.mark.parametrize(
    ("old", "new", "root1", "root2", "proof", "ok"),
    [
        (0, 0, CARE1, CARE2, [], False),
        (1, 1, CARE1, CARE2, [], False),
        (0, 0, CARE1, CARE1, [], True),
        (0, 1, CARE1, CARE2, [], True),
        (1, 1, CARE2, CARE2, [], True),
        (1, 0, CARE1, CARE2, [], False),
        (2, 1, CARE1, CARE2, [], False),
        (1, 2, CARE1, CARE2, [], False),
        (0, 0, EMPTY_ROOT, CARE2, [], False),
        (1, 1, EMPTY_ROOT, CARE2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (-1, 1, EMPTY_ROOT, EMPTY_ROOT, [], False),
    ],
)
def test_verify_consistency_edge_cases(
    old: int, new: int, root1: bytes, root2: bytes, proof: list[bytes], ok: bool
) -> None:
    if ok:
        verify_consistency(old, new, root1, root2, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(old, new, root1, root2, proof)


def test_verify_consistency_messages() -> None:
    proof = consistency_proof(LEAVES, 3, 7)
    with pytest.raises(ProofError, match="larger than new size"):
        verify_consistency(7, 3, ROOTS[7], ROOTS[3], proof)
    with pytest.raises(ProofError, match="wrong proof length"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof[1:])
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(3, 7, ROOTS[2], ROOTS[7], proof)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[6], proof)
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])


# --- Compact tree persistence --------------------------------------------------------------------


def test_compact_tree_restore_validates_frontier() -> None:
    with pytest.raises(ValueError, match="must hold 2 hashes"):
        CompactTree.restore(3, [n(1, 0)])
    with pytest.raises(ValueError, match="must hold 0 hashes"):
        CompactTree.restore(0, [n(0, 0)])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactTree.restore(1, [b"short"])
    with pytest.raises(ValueError, match="non-negative"):
        CompactTree.restore(-1, [])


def test_compact_tree_restore_then_append_continues_the_tree() -> None:
    tree = CompactTree.restore(5, FRONTIERS[5])
    tree.extend(LEAVES[5:])
    assert tree.size == 8
    assert tree.root() == ROOTS[8]
    assert tree.frontier() == FRONTIERS[8]


def test_compact_tree_rejects_non_digest_leaf() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CompactTree().append(b"not a hash")
    with pytest.raises(ValueError, match="32 bytes"):
        root_from_leaves([b"x" * 31])


def test_compact_tree_frontier_is_a_copy() -> None:
    tree = CompactTree()
    tree.append(LEAVES[0])
    tree.frontier().clear()
    assert tree.root() == ROOTS[1]


# --- Properties against a direct transcription of the RFC's recursive definitions ---------------
# (mirrors refRootHash / refInclusionProof / refConsistencyProof in testonly/reference_test.go)


def _split(size: int) -> int:
    """Largest power of two below size, by counting rather than bit tricks (independent code)."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def ref_root(leaves: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (leaves are already leaf hashes)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(ref_root(leaves[:k]), ref_root(leaves[k:]))


def ref_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 9162 §2.1.3.1 writes it."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*ref_path(index, leaves[:k]), ref_root(leaves[k:])]
    return [*ref_path(index - k, leaves[k:]), ref_root(leaves[:k])]


def ref_subproof(old: int, leaves: Sequence[bytes], known: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) exactly as RFC 9162 §2.1.4.1 writes it."""
    if old == len(leaves):
        return [] if known else [ref_root(leaves)]
    k = _split(len(leaves))
    if old <= k:
        return [*ref_subproof(old, leaves[:k], known), ref_root(leaves[k:])]
    return [*ref_subproof(old - k, leaves[k:], False), ref_root(leaves[:k])]


LEAVES_64 = [leaf_hash(i.to_bytes(4, "big")) for i in range(64)]
BIG_SIZES = (1000, 4097)
BIG_LEAVES = [
    leaf_hash(hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(max(BIG_SIZES))
]


def test_roots_agree_for_every_size_up_to_64() -> None:
    tree = CompactTree()
    for size in range(65):
        expected = ref_root(LEAVES_64[:size])
        assert root_from_leaves(LEAVES_64[:size]) == expected
        assert tree.root() == expected
        assert CompactTree.restore(size, tree.frontier()).root() == expected
        if size < 64:
            tree.append(LEAVES_64[size])


@pytest.mark.parametrize("size", BIG_SIZES)
def test_roots_agree_for_large_sizes(size: int) -> None:
    leaves = BIG_LEAVES[:size]
    tree = CompactTree()
    tree.extend(leaves)
    expected = ref_root(leaves)
    assert root_from_leaves(leaves) == expected
    assert tree.root() == expected
    assert CompactTree.restore(size, tree.frontier()).root() == expected


def test_every_inclusion_proof_up_to_64_verifies() -> None:
    for size in range(1, 65):
        root = ref_root(LEAVES_64[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES_64, index, size)
            assert proof == ref_path(index, LEAVES_64[:size])
            verify_inclusion(LEAVES_64[index], index, size, proof, root)


def test_every_consistency_proof_up_to_64_verifies() -> None:
    roots = [ref_root(LEAVES_64[:size]) for size in range(65)]
    for new in range(65):
        for old in range(new + 1):
            proof = consistency_proof(LEAVES_64, old, new)
            if 0 < old < new:
                assert proof == ref_subproof(old, LEAVES_64[:new], known=True)
            else:
                assert proof == []
            verify_consistency(old, new, roots[old], roots[new], proof)


def _sample(size: int) -> list[int]:
    """Both ends, the middle and a deterministic spread: every proof would be O(n^2) here."""
    picks = {0, 1, size // 2, size - 2, size - 1, *range(3, size, size // 7 + 1)}
    return sorted(p for p in picks if 0 <= p < size)


@pytest.mark.parametrize("size", BIG_SIZES)
def test_sampled_proofs_for_large_sizes_verify(size: int) -> None:
    root = root_from_leaves(BIG_LEAVES[:size])
    for index in _sample(size):
        proof = inclusion_proof(BIG_LEAVES, index, size)
        verify_inclusion(BIG_LEAVES[index], index, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"not in the log"), index, size, proof, root)
    for old in _sample(size + 1):
        proof = consistency_proof(BIG_LEAVES, old, size)
        old_root = root_from_leaves(BIG_LEAVES[:old])
        verify_consistency(old, size, old_root, root, proof)


def test_large_tree_is_handled_iteratively() -> None:
    # 2**16 + 3 leaves: a frontier that collapses to one perfect subtree and then regrows.
    size = 2**16 + 3
    leaves = [leaf_hash(i.to_bytes(3, "big")) for i in range(size)]
    tree = CompactTree()
    tree.extend(leaves[:-3])
    assert len(tree.frontier()) == 1
    tree.extend(leaves[-3:])
    root = tree.root()
    assert len(tree.frontier()) == 3
    assert root_from_leaves(leaves) == root
    proof = inclusion_proof(leaves, size - 1, size)
    assert len(proof) == 2  # root of the first 2**16 leaves, then of leaves 65536-65537
    verify_inclusion(leaves[-1], size - 1, size, proof, root)


def test_leaf_hashes_longer_than_size_are_ignored() -> None:
    assert inclusion_proof(LEAVES, 2, 5) == inclusion_proof(LEAVES[:5], 2, 5)
    assert consistency_proof(LEAVES, 3, 5) == consistency_proof(LEAVES[:5], 3, 5)
    assert inclusion_proof(LEAVES, 2, 5) != inclusion_proof(LEAVES, 2, 8)


def test_rfc_loops_reject_wrong_lengths_on_their_own() -> None:
    # The up-front length check only names the error: the RFC 9162 §2.1.3.2 / §2.1.4.2 loops
    # must reject too-long and too-short proofs by themselves.
    for size in range(1, 17):
        for index in range(size):
            proof = inclusion_proof(LEAVES_64, index, size)
            with pytest.raises(ProofError, match="longer"):
                merkle._inclusion_root(LEAVES_64[index], index, size, [*proof, SOME_HASH])
            if proof:
                with pytest.raises(ProofError, match="shorter"):
                    merkle._inclusion_root(LEAVES_64[index], index, size, proof[:-1])
        for old in range(1, size):
            proof = consistency_proof(LEAVES_64, old, size)
            old_root = root_from_leaves(LEAVES_64[:old])
            with pytest.raises(ProofError, match="longer"):
                merkle._consistency_roots(old, size, old_root, [*proof, SOME_HASH])
            if len(proof) > 1:
                with pytest.raises(ProofError, match="shorter"):
                    merkle._consistency_roots(old, size, old_root, proof[:-1])
