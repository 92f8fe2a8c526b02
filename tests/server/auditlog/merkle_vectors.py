"""Published Merkle tree test vectors shared by the Cordon audit-log tree tests.

Everything here is re-typed from github.com/transparency-dev/merkle (each block names its
source file) so that the tests pin Cordon's tree to the RFC 6962 / RFC 9162 reference
implementation rather than to itself.
"""

from __future__ import annotations

from server.auditlog.merkle import EMPTY_ROOT, leaf_hash, node_hash

h = bytes.fromhex

# --- Reference tree from transparency-dev/merkle testonly/constants.go --------------------------

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
LEAVES = [leaf_hash(data) for data in LEAF_INPUTS]

# NodeHashes(): [level][index] for every complete subtree of the 8-leaf tree.
NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# RootHashes(): indexed by tree size, starting from the empty tree.
ROOTS = [
    EMPTY_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]


def n(level: int, index: int) -> bytes:
    """Node hash at (level, index) of the reference tree, named as compact.NewNodeID does."""
    return NODES[level][index]


# CompactTrees(): the frontier of perfect-subtree roots for every size.
FRONTIERS = [
    [],
    [n(0, 0)],
    [n(1, 0)],
    [n(1, 0), n(0, 2)],
    [n(2, 0)],
    [n(2, 0), n(0, 4)],
    [n(2, 0), n(1, 2)],
    [n(2, 0), n(1, 2), n(0, 6)],
    [n(3, 0)],
]


# --- Proof vectors from transparency-dev/merkle testonly/reference_test.go ----------------------
# (TestRefInclusionProof / TestRefConsistencyProof) and proof/verify_test.go (inclusionProofs /
# consistencyProofs). verify_test.go numbers leaves from 1; its valid inclusion entries ({1, 1},
# {1, 8}, {6, 8}, {3, 3}, {2, 5}) are the same proofs as below once converted to 0-based
# indices, and its consistency list adds only the (6, 7) entry.

INCLUSION_VECTORS: list[tuple[int, int, list[bytes]]] = [
    # (index, size, proof)
    (0, 1, []),
    (0, 2, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")]),
    (1, 2, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

CONSISTENCY_VECTORS: list[tuple[int, int, list[bytes]]] = [
    # (old_size, new_size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


# --- Proof shapes from transparency-dev/merkle proof/proof_test.go ------------------------------
# (TestInclusion / TestConsistency, cases that fit in the 8-leaf reference tree). Node ids are
# (level, index); "l=hash(i,j)" rehashes become node_hash(i, j) of the size-7 tree's right half.

L7 = node_hash(n(1, 2), n(0, 6))

INCLUSION_SHAPES: list[tuple[int, int, list[bytes]]] = [
    (1, 0, []),
    (2, 0, [n(0, 1)]),
    (2, 1, [n(0, 0)]),
    (3, 1, [n(0, 0), n(0, 2)]),
    (7, 0, [n(0, 1), n(1, 1), L7]),
    (7, 1, [n(0, 0), n(1, 1), L7]),
    (7, 2, [n(0, 3), n(1, 0), L7]),
    (7, 3, [n(0, 2), n(1, 0), L7]),
    (7, 4, [n(0, 5), n(0, 6), n(2, 0)]),
    (7, 5, [n(0, 4), n(0, 6), n(2, 0)]),
    (7, 6, [n(1, 2), n(2, 0)]),
    (4, 2, [n(0, 3), n(1, 0)]),
    (5, 3, [n(0, 2), n(1, 0), n(0, 4)]),
    (6, 3, [n(0, 2), n(1, 0), n(1, 2)]),
    (6, 4, [n(0, 5), n(2, 0)]),
]

CONSISTENCY_SHAPES: list[tuple[int, int, list[bytes]]] = [
    (1, 2, [n(0, 1)]),
    (1, 4, [n(0, 1), n(1, 1)]),
    (1, 6, [n(0, 1), n(1, 1), n(1, 2)]),
    (2, 3, [n(0, 2)]),
    (2, 8, [n(1, 1), n(2, 1)]),
    (3, 7, [n(0, 2), n(0, 3), n(1, 0), L7]),
    (4, 7, [L7]),
    (5, 7, [n(0, 4), n(0, 5), n(0, 6), n(2, 0)]),
    (6, 7, [n(1, 2), n(0, 6), n(2, 0)]),
    (7, 8, [n(0, 6), n(0, 7), n(1, 2), n(2, 0)]),
    *((size, size, []) for size in (1, 2, 3, 4, 5, 7, 8)),
    (2, 4, [n(1, 1)]),
    (3, 5, [n(0, 2), n(0, 3), n(1, 0), n(0, 4)]),
    (3, 6, [n(0, 2), n(0, 3), n(1, 0), n(1, 2)]),
    (4, 6, [n(1, 2)]),
    (1, 7, [n(0, 1), n(1, 1), L7]),
]


# From proof/verify_test.go (sha256SomeHash): an arbitrary well-formed hash used as garbage.
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
