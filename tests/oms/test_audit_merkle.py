"""The audit log's Merkle tree (oms.audit_merkle): RFC 9162 known answers, exhaustive small trees, properties.

No database. The known answers are the Certificate Transparency reference vectors (the 8-leaf tree used by
the CT and transparency-dev Merkle test suites). The reference here is the RFC's recursive definition written
over lists (``_path``, ``_subproof``), independent of the module's store-based generators.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.audit_merkle import (
    EMPTY_ROOT,
    MemoryTree,
    Node,
    append,
    consistency_proof,
    consistency_proof_coords,
    frontier_coords,
    hash_children,
    hash_leaf,
    inclusion_proof,
    inclusion_proof_coords,
    mth,
    range_coords,
    root_from_frontier,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# The CT reference tree: leaf data, and MTH of its first 1..8 leaves.
LEAVES = [b"", h("00"), h("10"), h("2021"), h("3031"), h("40414243"), h("5051525354555657"), h("606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (leaf index from 0, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def _tree(leaf_hashes) -> MemoryTree:
    tree = MemoryTree()
    tree.append(leaf_hashes)
    return tree


def _leaf_hashes(n: int) -> list[bytes]:
    return [hash_leaf(i.to_bytes(4, "big")) for i in range(n)]


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _path(m: int, d: list[bytes]) -> list[bytes]:
    # RFC 9162 §2.1.3.1, PATH(m, D[n]), word for word.
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    return _path(m, d[:k]) + [mth(d[k:])] if m < k else _path(m - k, d[k:]) + [mth(d[:k])]


def _path_sides(m: int, n: int) -> list[bool]:
    # For each node of PATH(m, D[n]): is it the left sibling? (the shape the verifier walks)
    if n == 1:
        return []
    k = _split(n)
    return _path_sides(m, k) + [False] if m < k else _path_sides(m - k, n - k) + [True]


def _subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    # RFC 9162 §2.1.4.1, SUBPROOF(m, D[n], b), word for word.
    n = len(d)
    if m == n:
        return [] if whole else [mth(d)]
    k = _split(n)
    return _subproof(m, d[:k], whole) + [mth(d[k:])] if m <= k else _subproof(m - k, d[k:], False) + [mth(d[:k])]


def _flip(proof: list[bytes], i: int, bit: int = 3) -> list[bytes]:
    wrong = list(proof)
    wrong[i] = bytes([wrong[i][0] ^ (1 << bit)]) + wrong[i][1:]
    return wrong


# -- hashing (RFC 9162 §2.1.1) --------------------------------------------------------------------------


def test_hashes_match_the_reference_answers():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hash_leaf(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert hash_leaf(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert hash_children(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_a_leaf_cannot_pass_for_a_node():
    left, right = hash_leaf(b"Hello"), hash_leaf(b"World")
    assert hash_children(left, right) != hash_leaf(left + right)
    assert hash_children(left, right) != hash_children(right, left)


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_match_the_reference_tree_one_shot_and_incrementally(size):
    leaf_hashes = [hash_leaf(d) for d in LEAVES[:size]]
    expected = ROOTS[size - 1] if size else EMPTY_ROOT
    assert mth(leaf_hashes) == expected
    assert append((), 0, leaf_hashes).root == expected
    tree = MemoryTree()
    for leaf in leaf_hashes:
        tree.append([leaf])
    assert (tree.size, tree.root) == (size, expected)


# -- proofs against the reference vectors ----------------------------------------------------------------

REFERENCE = _tree([hash_leaf(d) for d in LEAVES])


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index, size, path):
    proof = inclusion_proof(index, size, REFERENCE.node)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(hash_leaf(LEAVES[index]), index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(old, new, path):
    proof = consistency_proof(old, new, REFERENCE.node)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[2]])
def test_a_corrupted_reference_inclusion_proof_fails(index, size, path):
    proof, root, leaf = [h(p) for p in path], ROOTS[size - 1], hash_leaf(LEAVES[index])
    probes = {
        "index - 1": (leaf, index - 1, size, proof, root), "index + 1": (leaf, index + 1, size, proof, root),
        "index ^ 2": (leaf, index ^ 2, size, proof, root), "size * 2": (leaf, index, size * 2, proof, root),
        "size // 2": (leaf, index, size // 2, proof, root), "wrong leaf": (b"WrongLeaf", index, size, proof, root),
        "wrong leaf hash": (SOME_HASH, index, size, proof, root), "empty root": (leaf, index, size, proof, EMPTY_ROOT),
        "random root": (leaf, index, size, proof, SOME_HASH), "trailing empty": (leaf, index, size, [*proof, b""], root),
        "trailing root": (leaf, index, size, [*proof, root], root), "preceding empty": (leaf, index, size, [b"", *proof], root),
        "preceding root": (leaf, index, size, [root, *proof], root), "removed": (leaf, index, size, proof[:-1], root),
        "inserted": (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root),
        **{f"flipped [{i}]": (leaf, index, size, _flip(proof, i), root) for i in range(len(proof))},
    }
    assert [name for name, args in probes.items() if verify_inclusion(*args)] == []


@pytest.mark.parametrize(("old", "new", "path"), [v for v in CONSISTENCY if v[2]])
def test_a_corrupted_reference_consistency_proof_fails(old, new, path):
    proof, r1, r2 = [h(p) for p in path], ROOTS[old - 1], ROOTS[new - 1]
    probes = {
        "old - 1": (old - 1, new, r1, r2, proof), "old + 1": (old + 1, new, r1, r2, proof),
        "old ^ 2": (old ^ 2, new, r1, r2, proof), "new * 2": (old, new * 2, r1, r2, proof),
        "new // 2": (old, new // 2, r1, r2, proof), "wrong old root": (old, new, b"WrongRoot", r2, proof),
        "wrong new root": (old, new, r1, b"WrongRoot", proof), "swapped roots": (old, new, r2, r1, proof),
        "empty proof": (old, new, r1, r2, []), "trailing empty": (old, new, r1, r2, [*proof, b""]),
        "trailing old root": (old, new, r1, r2, [*proof, r1]), "trailing new root": (old, new, r1, r2, [*proof, r2]),
        "preceding empty": (old, new, r1, r2, [b"", *proof]), "preceding old root": (old, new, r1, r2, [r1, *proof]),
        "preceding new root": (old, new, r1, r2, [r2, *proof]), "preceding proof[0]": (old, new, r1, r2, [proof[0], *proof]),
        "truncated": (old, new, r1, r2, proof[:-1]),
        **{f"flipped [{i}]": (old, new, r1, r2, _flip(proof, i, 4)) for i in range(len(proof))},
    }
    assert [name for name, args in probes.items() if verify_consistency(*args)] == []


def test_verify_inclusion_refuses_an_index_outside_the_tree():
    for index, size in ((0, 0), (1, 0), (1, 1), (2, 1)):
        assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    leaf = hash_leaf(b"data")  # a one-leaf tree: its root is its leaf hash, its proof empty
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)


def test_consistency_edges_the_rfc_leaves_out():
    r = ROOTS[0]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])  # every tree extends the empty one
    assert not verify_consistency(0, 5, SOME_HASH, ROOTS[4], [])  # but a head of size 0 carries MTH({})
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [EMPTY_ROOT])
    assert verify_consistency(1, 1, r, r, [])
    assert not verify_consistency(1, 1, r, SOME_HASH, [])  # same size, another root: a rewritten log
    assert not verify_consistency(1, 1, r, r, [r])
    assert not verify_consistency(2, 1, ROOTS[1], r, [])  # time travel
    assert not verify_consistency(1, 2, r, ROOTS[1], [])
    assert consistency_proof(0, 8, REFERENCE.node) == [] and consistency_proof(8, 8, REFERENCE.node) == []


# -- every tree up to 64 leaves against the RFC's recursive definitions ----------------------------------


def test_every_proof_of_every_small_tree_is_the_rfcs_and_verifies():
    leaf_hashes = _leaf_hashes(64)
    tree = _tree(leaf_hashes)
    roots = [mth(leaf_hashes[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(n):
            proof = inclusion_proof(m, n, tree.node)
            assert proof == _path(m, leaf_hashes[:n]), (m, n)
            assert verify_inclusion(leaf_hashes[m], m, n, proof, roots[n])
        for m in range(n + 1):
            proof = consistency_proof(m, n, tree.node)
            assert proof == (_subproof(m, leaf_hashes[:n], True) if m else []), (m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof)


def test_a_proof_reads_at_most_two_stored_subtrees_per_level():
    # The module docstring's bound, 2 * ceil(log2 n), checked for every proof up to n = 256.
    for n in range(1, 257):
        bound = 2 * (n - 1).bit_length()
        for m in range(n):
            assert len(inclusion_proof_coords(m, n)) <= bound, (m, n)
        for m in range(n + 1):
            assert len(consistency_proof_coords(m, n)) <= bound, (m, n)


def test_proofs_read_only_the_listed_subtrees():
    tree = _tree(_leaf_hashes(1000))
    read = []

    def node(level, index):
        read.append((level, index))
        return tree.node(level, index)

    inclusion_proof(517, 1000, node)
    assert read == inclusion_proof_coords(517, 1000)
    read.clear()
    consistency_proof(333, 1000, node)
    assert read == consistency_proof_coords(333, 1000)


# -- the incremental builder and its store ---------------------------------------------------------------


def test_append_stores_each_perfect_subtree_once_with_its_hash():
    leaf_hashes = _leaf_hashes(45)
    nodes = append((), 0, leaf_hashes[:20]).nodes
    result = append(append((), 0, leaf_hashes[:20]).frontier, 20, leaf_hashes[20:])
    nodes += result.nodes
    expected = {(level, i) for level in range(6) for i in range(45 >> level)}
    assert sorted((n.level, n.index) for n in nodes) == sorted(expected)  # none twice, none missing
    for level, index, digest in nodes:
        assert digest == mth(leaf_hashes[index << level:(index + 1) << level])
    assert result.nodes[0] == Node(0, 20, leaf_hashes[20])


def test_the_frontier_is_the_stored_subtrees_at_frontier_coords():
    tree = _tree(_leaf_hashes(45))  # 45 = 32 + 8 + 4 + 1
    assert frontier_coords(45) == [(5, 0), (3, 4), (2, 10), (0, 44)]
    assert tree.frontier == tuple(tree.node(level, i) for level, i in frontier_coords(45))
    assert root_from_frontier(tree.frontier) == tree.root == mth(_leaf_hashes(45))
    assert frontier_coords(0) == [] and root_from_frontier(()) == EMPTY_ROOT


def test_append_refuses_a_frontier_that_does_not_fit_the_size_and_a_leaf_that_is_not_a_hash():
    with pytest.raises(ValueError, match="frontier of 2 subtrees"):
        append((SOME_HASH,), 3, [])
    with pytest.raises(ValueError, match="leaf #0"):
        append((), 0, [b"short"])


def test_a_subtree_not_yet_complete_is_not_in_the_store():
    tree = _tree(_leaf_hashes(5))
    assert tree.node(2, 0) == mth(_leaf_hashes(4))
    for level, index in ((2, 1), (0, 5), (3, 0), (0, -1)):
        with pytest.raises(KeyError):
            tree.node(level, index)


def test_range_coords_refuses_a_range_no_proof_names():
    assert range_coords(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not aligned"):
        range_coords(4, 12)  # 8 leaves starting at 4: MTH of it is not a fold of aligned subtrees
    with pytest.raises(ValueError, match="empty"):
        range_coords(3, 3)


def test_proof_generators_refuse_impossible_sizes():
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, REFERENCE.node)
    with pytest.raises(ValueError):
        consistency_proof(6, 5, REFERENCE.node)


# -- properties -------------------------------------------------------------------------------------------

SIZES = st.integers(min_value=1, max_value=600)
_TREE = _tree(_leaf_hashes(600))
_ROOTS = [mth(_leaf_hashes(n)) for n in range(601)]
_LEAVES = _leaf_hashes(600)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=SIZES)
def test_every_inclusion_proof_verifies_and_any_change_fails(data, n):
    m = data.draw(st.integers(0, n - 1), label="index")
    proof, leaf, root = inclusion_proof(m, n, _TREE.node), _LEAVES[m], _ROOTS[n]
    assert verify_inclusion(leaf, m, n, proof, root)
    assert not verify_inclusion(hash_leaf(b"another event"), m, n, proof, root)
    assert not verify_inclusion(leaf, m, n, proof, _ROOTS[n - 1])
    if proof:
        i, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
        flipped = list(proof)
        flipped[i] = (int.from_bytes(proof[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        assert not verify_inclusion(leaf, m, n, flipped, root)
        assert not verify_inclusion(leaf, m, n, proof[:-1], root)
    assert not verify_inclusion(leaf, m, n, [*proof, SOME_HASH], root)
    assert not verify_inclusion(leaf, m, n, [SOME_HASH, *proof], root)
    other = data.draw(st.integers(0, n - 1).filter(lambda j: j != m), label="wrong index") if n > 1 else None
    if other is not None:
        assert not verify_inclusion(leaf, other, n, proof, root)
    # The root does not commit to the size: another size verifies exactly when its audit path has the
    # same shape. The signed tree head is what binds size and root together.
    size = data.draw(st.integers(m + 1, 1200).filter(lambda s: s != n), label="wrong size")
    assert verify_inclusion(leaf, m, size, proof, root) == (_path_sides(m, size) == _path_sides(m, n))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=SIZES)
def test_every_consistency_proof_verifies_and_any_change_fails(data, n):
    m = data.draw(st.integers(1, n), label="old size")
    proof = consistency_proof(m, n, _TREE.node)
    assert verify_consistency(m, n, _ROOTS[m], _ROOTS[n], proof)
    if m == n:
        assert proof == [] and not verify_consistency(m, n, _ROOTS[m], SOME_HASH, proof)
        return
    assert not verify_consistency(m, n, SOME_HASH, _ROOTS[n], proof)
    assert not verify_consistency(m, n, _ROOTS[m], SOME_HASH, proof)
    i, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
    flipped = list(proof)
    flipped[i] = (int.from_bytes(proof[i], "big") ^ (1 << bit)).to_bytes(32, "big")
    assert not verify_consistency(m, n, _ROOTS[m], _ROOTS[n], flipped)
    assert not verify_consistency(m, n, _ROOTS[m], _ROOTS[n], proof[:-1])
    assert not verify_consistency(m, n, _ROOTS[m], _ROOTS[n], [*proof, SOME_HASH])
    assert not verify_consistency(m, n, _ROOTS[m], _ROOTS[n], [SOME_HASH, *proof])
    # Another pair of sizes with the true roots of these two trees: fails (the old root must be rebuilt too).
    m2 = data.draw(st.integers(1, n - 1), label="wrong old size")
    if m2 != m:
        assert not verify_consistency(m2, n, _ROOTS[m], _ROOTS[n], proof)


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(0, 300), max_size=8))
def test_appending_in_any_batches_gives_the_one_shot_root(cuts):
    leaves = _LEAVES[:300]
    bounds = sorted(set(cuts) | {0, 300})
    frontier, size, nodes = (), 0, []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        result = append(frontier, size, leaves[lo:hi])
        frontier, size = result.frontier, result.size
        nodes += result.nodes
        assert result.root == _ROOTS[hi]
    assert size == 300 and root_from_frontier(frontier) == _ROOTS[300]
    assert len(nodes) == len({(n.level, n.index) for n in nodes}) == 2 * 300 - (300).bit_count()


def test_sha256_is_the_hash():
    assert hash_leaf(b"x") == hashlib.sha256(b"\x00x").digest()
