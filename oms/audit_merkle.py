"""Merkle tree of the audit log, as transparency logs build theirs (RFC 9162, Certificate Transparency v2).

Pure Python, the standard library only (``hashlib``): the sealer uses it inside Django and the offline
verifier (``python -m oms.audit_proof``) in a plain interpreter.

Hashing (RFC 9162 §2.1.1), SHA-256 throughout, ``||`` is concatenation, D[n] the list of n leaf data:

* ``MTH({}) = SHA-256()``: the empty tree's hash is the hash of the empty string.
* ``MTH({d0}) = SHA-256(0x00 || d0)``: a leaf hash (:func:`hash_leaf`).
* ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` for n > 1, with k the largest power of two
  smaller than n (:func:`hash_children`). The 0x00 / 0x01 prefixes keep a leaf from passing for a node
  (second-preimage resistance).

Perfect subtrees and the store. The node ``(level, index)`` is the perfect subtree over the leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Once its last leaf is in,
its hash never changes (the log is append-only), so the sealer stores each one once, in a table, and never
rehashes the log. A tree of n leaves holds fewer than 2n of them.

* The frontier of a tree of size n is the list of the perfect subtrees that cover leaves 0..n-1, one per
  set bit of n, largest (leftmost) first (:func:`frontier_coords`). MTH of the tree is the frontier folded
  from the right, ``f0 . (f1 . (... . f_last))`` with ``a . b = hash_children(a, b)``
  (:func:`root_from_frontier`): the RFC's split point k is exactly the leftmost frontier subtree.
* Appending (:func:`append`) pushes each leaf hash and merges equal-sized neighbours, as a binary counter
  carries: one ``hash_children`` per new perfect subtree, fewer than one per leaf on average, whatever
  the size of the log. It returns the new frontier, root and the new perfect subtrees to store.

Proof nodes from the store. Every node of an RFC 9162 proof is ``MTH(D[a:b])`` of a range that the
recursions of §2.1.3.1 and §2.1.4.1 reach by halving the tree at its split points, so ``a`` is a multiple
of a power of two ``2**l >= b - a``. Such a range is either a perfect subtree (``b - a == 2**l``) or, when
the tree's end cuts it (``b == n``), the ranges of the set bits of ``b - a``, each of them a perfect
subtree aligned on its own size: its hash is their fold from the right, as for the frontier
(:func:`range_coords`). In either proof at most one node is such a cut range (once the recursion goes
left of the tree's end, every range it meets is perfect), so a proof in a tree of size n reads at most
``2 * ceil(log2(n))`` stored subtrees (a test checks every proof up to n = 256), whatever the log holds: :func:`inclusion_proof_coords` and
:func:`consistency_proof_coords` list them, so a caller can fetch them in one query before it calls
:func:`inclusion_proof` / :func:`consistency_proof` with ``node(level, index) -> bytes``.

Verification follows the RFC's algorithms step by step: §2.1.3.2 (:func:`verify_inclusion`) and §2.1.4.2
(:func:`verify_consistency`); both return a bool and never raise on a wrong proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1
NODE_PREFIX = b"\x01"  # RFC 9162 §2.1.1
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}), RFC 9162 §2.1.1

NodeReader = Callable[[int, int], bytes]  # node(level, index) -> the stored hash of that perfect subtree

_sha256 = hashlib.sha256


def hash_leaf(data: bytes) -> bytes:
    """Hash one leaf's data: SHA-256(0x00 || data) (RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: k is the largest power of two smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute MTH over the given leaf hashes by the RFC's recursive definition (reference, O(n))."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return hash_children(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


class Node(NamedTuple):
    """A perfect subtree to store: it covers leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    index: int
    hash: bytes


class Appended(NamedTuple):
    """What :func:`append` returns: the tree after the new leaves, and the perfect subtrees to store."""

    size: int
    frontier: tuple[bytes, ...]
    root: bytes
    nodes: list[Node]  # every perfect subtree the new leaves completed, leaves (level 0) included


def frontier_coords(size: int) -> list[tuple[int, int]]:
    """List the (level, index) of the perfect subtrees covering leaves 0..size-1, leftmost first."""
    if size < 0:
        raise ValueError(f"a tree size is not negative: {size}")
    return range_coords(0, size) if size else []


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """Fold the frontier from the right into the tree's MTH (EMPTY_ROOT for no subtree)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for left in reversed(frontier[:-1]):
        root = hash_children(left, root)
    return root


def append(frontier: Sequence[bytes], size: int, leaf_hashes: Iterable[bytes]) -> Appended:
    """Append leaf hashes to a tree of ``size`` leaves given by its frontier.

    The cost is one leaf plus one ``hash_children`` per perfect subtree completed (fewer than 2 per leaf
    over any run), plus the fold of the new frontier (at most log2 of the new size): nothing depends on
    the leaves already in the tree.
    """
    if len(frontier) != size.bit_count():
        raise ValueError(f"a tree of {size} leaves has a frontier of {size.bit_count()} subtrees, not {len(frontier)}")
    stack = list(frontier)
    nodes: list[Node] = []
    store = nodes.append
    sha = _sha256
    for leaf in leaf_hashes:
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf #{size} is not a {HASH_SIZE}-byte hash")
        store(Node(0, size, leaf))
        level, index, h = 0, size, leaf
        # An odd index is a right child: its left sibling is the top of the stack (the counter carries).
        while index & 1:
            h = sha(NODE_PREFIX + stack.pop() + h).digest()
            level, index = level + 1, index >> 1
            store(Node(level, index, h))
        stack.append(h)
        size += 1
    return Appended(size, tuple(stack), root_from_frontier(stack), nodes)


def range_coords(start: int, end: int) -> list[tuple[int, int]]:
    """List the perfect subtrees whose fold from the right is MTH(D[start:end]), leftmost first.

    ``start`` must be a multiple of a power of two at least ``end - start`` (every range an RFC 9162 proof
    names is; see the module docstring): the set bits of the length then give subtrees aligned on their size.
    """
    length = end - start
    if length <= 0:
        raise ValueError(f"an empty or reversed range: [{start}, {end})")
    if start & ((1 << (length - 1).bit_length()) - 1):
        raise ValueError(f"[{start}, {end}) is not aligned on a power of two covering it")
    coords = []
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            coords.append((level, start >> level))
            start += 1 << level
    return coords


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    # PATH(m, D[n]) of RFC 9162 §2.1.3.1, unrolled: the ranges of its nodes, leaf level first.
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            ranges.append((lo + k, hi))  # PATH(m, D[0:k]) : MTH(D[k:n])
            hi = lo + k
        else:
            ranges.append((lo, lo + k))  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            lo, m = lo + k, m - k
    ranges.reverse()  # the recursion appends on the way back up: the deepest node comes first
    return ranges


def _consistency_ranges(old_size: int, size: int) -> list[tuple[int, int]]:
    # PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1, unrolled.
    if not 0 <= old_size <= size:
        raise ValueError(f"no consistency proof from {old_size} leaves to {size}")
    if old_size in (0, size):
        return []  # an empty tree, or the same tree: nothing to prove (§2.1.4.1 defines 0 < m < n)
    ranges = []
    lo, hi, m, whole = 0, size, old_size, True  # whole: SUBPROOF's b, "m is the whole old tree"
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            hi = lo + k
        else:
            ranges.append((lo, lo + k))  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    ranges.reverse()
    return ranges


def _coords(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [c for a, b in ranges for c in range_coords(a, b)]


def inclusion_proof_coords(index: int, size: int) -> list[tuple[int, int]]:
    """List the stored subtrees :func:`inclusion_proof` reads for this leaf and tree size."""
    return _coords(_inclusion_ranges(index, size))


def consistency_proof_coords(old_size: int, size: int) -> list[tuple[int, int]]:
    """List the stored subtrees :func:`consistency_proof` reads for these two tree sizes."""
    return _coords(_consistency_ranges(old_size, size))


def _proof(ranges: list[tuple[int, int]], node: NodeReader) -> list[bytes]:
    return [root_from_frontier([node(level, i) for level, i in range_coords(a, b)]) for a, b in ranges]


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    """Build the inclusion proof of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 §2.1.3.1).

    ``node(level, index)`` returns a stored perfect subtree's hash; the proof lists the sibling hashes
    from the leaf's level up to the root's children.
    """
    return _proof(_inclusion_ranges(index, size), node)


def consistency_proof(old_size: int, size: int, node: NodeReader) -> list[bytes]:
    """Build the proof that the tree of ``size`` leaves extends the one of ``old_size`` (RFC 9162 §2.1.4.1).

    Empty when ``old_size`` is 0 or ``size`` (nothing to prove).
    """
    return _proof(_consistency_ranges(old_size, size), node)


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves whose MTH is ``root``.

    The algorithm of RFC 9162 §2.1.3.2; a malformed proof or hash is a failed check, not an error. The
    root does not commit to the size: the same proof holds for another size whose audit path has the same
    shape (left/right siblings, levels), so take ``size`` and ``root`` from one signed tree head.
    """
    if not _well_formed(leaf_hash, root, *proof) or not 0 <= index < size:  # step 1
        return False
    fn, sn, r = index, size - 1, leaf_hash  # steps 2, 3
    for p in proof:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            # The right edge of an unbalanced tree: climb the levels where this node has no sibling.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hash_children(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root  # step 5


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]) -> bool:
    """Check that the tree of ``size`` leaves with MTH ``root`` extends the one of ``old_size`` with ``old_root``.

    The algorithm of RFC 9162 §2.1.4.2 for ``0 < old_size < size``. The edges the RFC leaves out: the same
    size holds with an empty proof and the same root; an old empty tree holds with an empty proof when its
    root is MTH({}) (every tree extends the empty one; a signed head of size 0 must still carry the right hash).
    """
    if not _well_formed(old_root, root, *proof) or not 0 <= old_size <= size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == size:
        return not proof and old_root == root
    if not proof:  # step 1
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: a power of two is a perfect subtree, which the proof omits
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = hash_children(c, fr), hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = hash_children(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == root and sn == 0  # step 7


class MemoryTree:
    """Keep a whole tree's perfect subtrees in memory: the store contract, for tests, benchmarks and tools.

    One ``bytearray`` per level holds its subtrees' hashes end to end (2n hashes, 64 MB per million leaves).
    """

    def __init__(self) -> None:
        self.size = 0
        self.frontier: tuple[bytes, ...] = ()
        self.root = EMPTY_ROOT
        self._levels: list[bytearray] = []

    def append(self, leaf_hashes: Iterable[bytes]) -> Appended:
        """Append leaf hashes and store the perfect subtrees they complete."""
        result = append(self.frontier, self.size, leaf_hashes)
        levels = self._levels
        for level, _index, h in result.nodes:  # completed in index order within each level
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
        self.size, self.frontier, self.root = result.size, result.frontier, result.root
        return result

    def node(self, level: int, index: int) -> bytes:
        """Return a stored perfect subtree's hash (KeyError if that subtree is not complete)."""
        if level >= len(self._levels) or (index + 1) * HASH_SIZE > len(self._levels[level]) or index < 0:
            raise KeyError((level, index))
        return bytes(self._levels[level][index * HASH_SIZE:(index + 1) * HASH_SIZE])
