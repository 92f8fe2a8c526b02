"""RFC 9162 §2.1 Merkle tree hashing, proofs and verification for the Cordon audit log.

The audit log is only tamper-evident if every party computes exactly the same tree: the server
when it publishes a checkpoint, auditors when they check that an access event is included, and
monitors when they check that a newer checkpoint extends an older one. This module therefore
follows RFC 9162 (Certificate Transparency v2, whose tree is the RFC 6962 tree) to the letter,
including its domain-separation prefixes, so that stock transparency tooling can cross-check
Cordon's log.

Everything here is iterative or recurses at most log2(n) deep, because the log grows to
millions of leaves and must never hit Python's recursion limit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactTree",
    "ProofError",
    "RangeRoot",
    "consistency_path",
    "consistency_proof",
    "inclusion_path",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size of every tree hash in bytes (SHA-256)."""

#: ``range_root(start, end)``: MTH(D[start:end]) of the tree a proof is made for.
RangeRoot = Callable[[int, int], bytes]

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree, which RFC 9162 defines as the hash of no input."""


class ProofError(Exception):
    """A Merkle proof did not verify; the message says which check failed.

    A distinct type lets callers tell "the log lied or the proof is corrupt" apart from
    programming errors such as passing the wrong type.
    """


def leaf_hash(data: bytes) -> bytes:
    """Hash one log entry; the 0x00 prefix keeps leaves from being passed off as inner nodes."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes; the 0x01 prefix separates inner nodes from leaves (RFC 9162)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly below n (n >= 2): where RFC 9162 splits a tree of n."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    """Reject anything that is not a SHA-256 digest before it gets mixed into a tree."""
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


class CompactTree:
    """Append-only Merkle tree that keeps only the roots of its maximal perfect subtrees.

    The server appends every audit event and must publish a fresh root without reloading the
    whole log, so it keeps this "compact range": one hash per set bit of the size, largest
    (leftmost) subtree first. Appending and computing the root both cost O(log n), and the
    frontier is small enough to persist next to the log and restore after a restart.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        """Start an empty tree; use restore() to resume one that was persisted."""
        self._size = 0
        self._frontier: list[bytes] = []

    @classmethod
    def restore(cls, size: int, frontier: Sequence[bytes]) -> CompactTree:
        """Rebuild a tree from a persisted frontier, refusing one that cannot be for `size`.

        A frontier of the wrong length would silently produce wrong roots forever after, so
        the length is checked against popcount(size) and every hash against HASH_SIZE.
        """
        if size < 0:
            raise ValueError(f"tree size must be non-negative, got {size}")
        expected = size.bit_count()
        if len(frontier) != expected:
            raise ValueError(
                f"frontier for size {size} must hold {expected} hashes, got {len(frontier)}"
            )
        for position, value in enumerate(frontier):
            _check_hash(value, f"frontier[{position}]")
        tree = cls()
        tree._size = size
        tree._frontier = [bytes(value) for value in frontier]
        return tree

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def frontier(self) -> list[bytes]:
        """Perfect-subtree roots, largest first: the state to persist for restore()."""
        return list(self._frontier)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees exactly as a binary counter carries."""
        _check_hash(leaf, "leaf hash")
        node = leaf
        carry = self._size
        while carry & 1:
            node = node_hash(self._frontier.pop(), node)
            carry >>= 1
        self._frontier.append(node)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes in order (convenience for batch ingestion)."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of all leaves so far, folding the frontier from the smallest subtree up.

        RFC 9162 splits a tree at its largest power of two, which is exactly the leftmost
        frontier entry, so folding right-to-left reproduces MTH without the leaves.
        """
        if not self._frontier:
            return EMPTY_ROOT
        acc = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            acc = node_hash(left, acc)
        return acc


def _range_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of leaves[start:end] without copying the slice (the range may be millions long)."""
    tree = CompactTree()
    for position in range(start, end):
        tree.append(leaves[position])
    return tree.root()


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes in O(n) time and O(log n) memory, without recursion."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def _check_sizes(leaf_hashes: Sequence[bytes], size: int) -> None:
    """Refuse a tree size the caller's leaves cannot back; a short proof would be a lie."""
    if size < 0 or size > len(leaf_hashes):
        raise ValueError(f"tree size {size} out of range for {len(leaf_hashes)} leaves")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) from RFC 9162 §2.1.3.1, ordered from the leaf's sibling upwards.

    Only the first `size` leaves are used, so the server can answer for any published
    checkpoint from the same growing leaf list. Costs O(size) hashes, since sibling
    subtrees are rehashed from their leaves; the server serves proofs from stored
    interior hashes instead (:func:`inclusion_path` over its tiles).
    """
    _check_sizes(leaf_hashes, size)
    return inclusion_path(lambda start, end: _range_root(leaf_hashes, start, end), index, size)


def inclusion_path(range_root: RangeRoot, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) with subtree roots from ``range_root(start, end)``.

    The RFC's recursion is unrolled: each step picks the half holding the leaf
    and records the other half's root — at most log2(size) ranges asked for.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    path: list[bytes] = []
    start, width, offset = 0, size, index
    while width > 1:
        split = _split_point(width)
        if offset < split:
            path.append(range_root(start + split, start + width))
            width = split
        else:
            path.append(range_root(start, start + split))
            start, offset, width = start + split, offset - split, width - split
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from RFC 9162 §2.1.4.1, i.e. SUBPROOF(m, D[n], true).

    Sizes 0 and old_size == new_size need no proof and yield an empty list, matching what
    verify_consistency() demands.
    """
    _check_sizes(leaf_hashes, new_size)
    return consistency_path(
        lambda start, end: _range_root(leaf_hashes, start, end), old_size, new_size
    )


def consistency_path(range_root: RangeRoot, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) with subtree roots from ``range_root(start, end)``.

    The RFC's recursion is unrolled; `known` is SUBPROOF's b flag (whether the
    old root is already known to the verifier).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} out of range for new size {new_size}")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, width, old, known = 0, new_size, old_size, True
    while old < width:
        split = _split_point(width)
        if old <= split:
            path.append(range_root(start + split, start + width))
            width = split
        else:
            path.append(range_root(start, start + split))
            start, old, width, known = start + split, old - split, width - split, False
    if not known:
        path.append(range_root(start, start + width))
    path.reverse()
    return path


def _equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison, so timing never reveals how much of a forged hash matched."""
    return hmac.compare_digest(a, b)


def _require_hash(value: bytes, what: str) -> None:
    """ProofError (not ValueError) for malformed hashes: they arrive from untrusted peers."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _require_proof_hashes(proof: Sequence[bytes]) -> None:
    """Check every proof element is a digest before any hashing starts."""
    for position, element in enumerate(proof):
        _require_hash(element, f"proof element {position}")


def _inclusion_length(index: int, size: int) -> int:
    """Number of hashes PATH(index, D[size]) contains, derived from the sizes alone."""
    length = 0
    offset, width = index, size
    while width > 1:
        split = _split_point(width)
        if offset < split:
            width = split
        else:
            offset, width = offset - split, width - split
        length += 1
    return length


def _consistency_length(old_size: int, new_size: int) -> int:
    """Number of hashes PROOF(old_size, D[new_size]) contains, for 0 < old_size < new_size."""
    length = 0
    old, width, known = old_size, new_size, True
    while old < width:
        split = _split_point(width)
        if old <= split:
            width = split
        else:
            old, width, known = old - split, width - split, False
        length += 1
    return length if known else length + 1


def _shift_to_set_bit(fn: int, sn: int) -> tuple[int, int]:
    """RFC 9162: "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0"."""
    while not fn & 1 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _inclusion_root(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Steps 2-4 and the sn check of RFC 9162 §2.1.3.2: the root the proof leads to."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` is entry `index` of the tree of `size` whose root is `root`.

    Implements RFC 9162 §2.1.3.2 step by step. A wrong-length proof can never pass that
    algorithm, so the length is checked first purely to give a precise error message.
    Raises ProofError on any failure; returns None on success so a missed check cannot be
    mistaken for a pass.
    """
    _require_hash(leaf, "leaf hash")
    _require_hash(root, "root hash")
    _require_proof_hashes(proof)
    if size < 0 or not 0 <= index < size:
        raise ProofError(f"leaf index {index} out of range for tree size {size}")
    expected = _inclusion_length(index, size)
    if len(proof) != expected:
        raise ProofError(f"wrong proof length: expected {expected} hashes, got {len(proof)}")
    if not _equal(_inclusion_root(leaf, index, size, proof), root):
        raise ProofError("wrong root: inclusion proof does not lead to the expected root")


def _verify_trivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Handle the cases RFC 9162 §2.1.4.2 leaves out; True when fully decided here.

    The RFC's algorithm assumes 0 < old_size < new_size. Equal sizes must have equal roots and
    an empty proof; the empty tree is a prefix of every tree, so it needs an empty proof (and,
    as in the reference implementation, old_root is not compared with EMPTY_ROOT).
    """
    if old_size < 0 or new_size < 0:
        raise ProofError(f"tree sizes must be non-negative, got {old_size} and {new_size}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError(f"wrong proof length: expected 0 hashes, got {len(proof)}")
        if not _equal(old_root, new_root):
            raise ProofError("wrong root: equal tree sizes but different roots")
        return True
    if old_size == 0:
        if proof:
            raise ProofError(f"wrong proof length: expected 0 hashes, got {len(proof)}")
        return True
    return False


def _consistency_roots(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 2-6 and the sn check of RFC 9162 §2.1.4.2: the (fr, sr) roots the proof yields."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    return fr, sr


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) is an append-only extension of (old_size, old_root).

    Implements RFC 9162 §2.1.4.2 step by step; the up-front length check cannot change the
    outcome, it only names the failure (it also covers step 1, "fail on an empty proof").
    Raises ProofError on any failure.
    """
    _require_hash(old_root, "old root hash")
    _require_hash(new_root, "new root hash")
    _require_proof_hashes(proof)
    if _verify_trivial_consistency(old_size, new_size, old_root, new_root, proof):
        return
    expected = _consistency_length(old_size, new_size)
    if len(proof) != expected:
        raise ProofError(f"wrong proof length: expected {expected} hashes, got {len(proof)}")
    fr, sr = _consistency_roots(old_size, new_size, old_root, proof)
    if not _equal(fr, old_root):
        raise ProofError("wrong root: consistency proof does not reproduce the old root")
    if not _equal(sr, new_root):
        raise ProofError("wrong root: consistency proof does not reproduce the new root")
