"""Cordon's audit-log Merkle tree against the published RFC 6962 / RFC 9162 vectors.

The vectors (in merkle_vectors.py) come from github.com/transparency-dev/merkle, so these tests
prove byte compatibility with standard transparency tooling, and the corruption probes ported
from its proof/verify_test.go prove that no tampered variant of a valid proof slips through.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

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
from tests.server.auditlog.merkle_vectors import (
    CONSISTENCY_SHAPES,
    CONSISTENCY_VECTORS,
    FRONTIERS,
    INCLUSION_SHAPES,
    INCLUSION_VECTORS,
    LEAVES,
    NODES,
    ROOTS,
    SOME_HASH,
    h,
)

LEAVES_64 = [leaf_hash(i.to_bytes(4, "big")) for i in range(64)]


# --- Vectors from transparency-dev/merkle rfc6962/rfc6962_test.go (TestRFC6962Hasher) ---------


def test_rfc6962_empty_root() -> None:
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT


def test_rfc6962_empty_leaf_differs_from_empty_root() -> None:
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")


def test_rfc6962_leaf() -> None:
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )


def test_rfc6962_node() -> None:
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_rfc6962_domain_separation() -> None:
    # From TestRFC6962HasherCollisions in the same file.
    h1, h2 = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert h1 != h2
    assert node_hash(h1, h2) != leaf_hash(h1 + h2)
    assert node_hash(h1, h2) != node_hash(h2, h1)


# --- Reference tree from transparency-dev/merkle testonly/constants.go --------------------------


def test_leaf_hashes_match_reference_level_zero() -> None:
    assert NODES[0] == LEAVES


@pytest.mark.parametrize("size", range(9))
def test_reference_roots(size: int) -> None:
    assert root_from_leaves(LEAVES[:size]) == ROOTS[size]


def test_compact_tree_frontiers_match_reference() -> None:
    tree = CompactTree()
    assert tree.root() == EMPTY_ROOT
    assert tree.frontier() == []
    for size in range(1, 9):
        tree.append(LEAVES[size - 1])
        assert tree.size == size
        assert tree.frontier() == FRONTIERS[size]
        assert tree.root() == ROOTS[size]
        assert CompactTree.restore(size, FRONTIERS[size]).root() == ROOTS[size]


# --- Proof vectors (testonly/reference_test.go, proof/verify_test.go) and shapes (proof_test.go) --


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(LEAVES, index, size) == proof
    verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES, old, new) == proof
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(("size", "index", "proof"), INCLUSION_SHAPES)
def test_inclusion_shapes(size: int, index: int, proof: list[bytes]) -> None:
    assert inclusion_proof(LEAVES, index, size) == proof
    verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_SHAPES)
def test_consistency_shapes(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES, old, new) == proof
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


# --- Corruption probes ported from proof/verify_test.go -----------------------------------------
# corruptInclusionProof / corruptConsistencyProof: every variant of a valid proof must fail.


def _flip(proof: list[bytes], position: int, mask: int) -> list[bytes]:
    element = bytearray(proof[position])
    element[0] ^= mask
    return [*proof[:position], bytes(element), *proof[position + 1 :]]


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    probes = [
        ("index - 1", index - 1, size, proof, root, leaf),
        ("index + 1", index + 1, size, proof, root, leaf),
        ("index ^ 2", index ^ 2, size, proof, root, leaf),
        ("size * 2", index, size * 2, proof, root, leaf),
        ("size / 2", index, size // 2, proof, root, leaf),
        ("wrong leaf", index, size, proof, root, b"WrongLeaf"),
        ("wrong 32-byte leaf", index, size, proof, root, leaf_hash(b"WrongLeaf")),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root, leaf),
        ("trailing root", index, size, [*proof, root], root, leaf),
        ("preceding garbage", index, size, [b"", *proof], root, leaf),
        ("preceding root", index, size, [root, *proof], root, leaf),
    ]
    for position in range(len(proof)):
        probes.append((f"flip {position}", index, size, _flip(proof, position, 8), root, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", index, size, inserted, root, leaf))
    return probes


def _rejected(check: Callable[[], None]) -> bool:
    """Whether a verification raised ProofError (anything else propagates and fails the test)."""
    try:
        check()
    except ProofError:
        return True
    return False


def _check_inclusion_corruptions(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    verify_inclusion(leaf, index, size, proof, root)
    accepted = [
        desc
        for desc, p_index, p_size, p_proof, p_root, p_leaf in _inclusion_probes(
            index, size, proof, root, leaf
        )
        if not _rejected(partial(verify_inclusion, p_leaf, p_index, p_size, p_proof, p_root))
    ]
    assert accepted == [], f"incorrectly verified against: {accepted}"


def _consistency_probes(
    old: int, new: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    probes = [
        ("old - 1", old - 1, new, root1, root2, proof),
        ("old + 1", old + 1, new, root1, root2, proof),
        ("old ^ 2", old ^ 2, new, root1, root2, proof),
        ("new * 2", old, new * 2, root1, root2, proof),
        ("new / 2", old, new // 2, root1, root2, proof),
        ("wrong root1", old, new, b"WrongRoot", root2, proof),
        ("wrong root2", old, new, root1, b"WrongRoot", proof),
        ("wrong 32-byte root1", old, new, SOME_HASH, root2, proof),
        ("wrong 32-byte root2", old, new, root1, SOME_HASH, proof),
        ("swapped roots", old, new, root2, root1, proof),
        ("empty proof", old, new, root1, root2, []),
        ("trailing garbage", old, new, root1, root2, [*proof, b""]),
        ("trailing root1", old, new, root1, root2, [*proof, root1]),
        ("trailing root2", old, new, root1, root2, [*proof, root2]),
        ("preceding garbage", old, new, root1, root2, [b"", *proof]),
        ("preceding root1", old, new, root1, root2, [root1, *proof]),
        ("preceding root2", old, new, root1, root2, [root2, *proof]),
        ("preceding proof[0]", old, new, root1, root2, [proof[0], *proof]),
        ("truncated", old, new, root1, root2, proof[:-1]),
    ]
    for position in range(len(proof)):
        probes.append((f"flip {position}", old, new, root1, root2, _flip(proof, position, 16)))
    return probes


def _check_consistency_corruptions(
    old: int, new: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    verify_consistency(old, new, root1, root2, proof)
    if not proof:  # verify_test.go only corrupts non-trivial proofs.
        return
    accepted = [
        desc
        for desc, p_old, p_new, p_root1, p_root2, p_proof in _consistency_probes(
            old, new, root1, root2, proof
        )
        if not _rejected(partial(verify_consistency, p_old, p_new, p_root1, p_root2, p_proof))
    ]
    assert accepted == [], f"incorrectly verified against: {accepted}"


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_corrupted_inclusion_vectors_fail(index: int, size: int, proof: list[bytes]) -> None:
    _check_inclusion_corruptions(LEAVES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_corrupted_consistency_vectors_fail(old: int, new: int, proof: list[bytes]) -> None:
    _check_consistency_corruptions(old, new, ROOTS[old], ROOTS[new], proof)


def test_corrupted_generated_proofs_fail() -> None:
    # The same probes over every proof of every tree up to 12 leaves, not just the vectors.
    roots = [root_from_leaves(LEAVES_64[:size]) for size in range(13)]
    for new in range(1, 13):
        for index in range(new):
            proof = inclusion_proof(LEAVES_64, index, new)
            _check_inclusion_corruptions(LEAVES_64[index], index, new, proof, roots[new])
        for old in range(1, new):
            proof = consistency_proof(LEAVES_64, old, new)
            _check_consistency_corruptions(old, new, roots[old], roots[new], proof)
