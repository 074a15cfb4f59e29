"""Benchmark the audit log's Merkle tree (oms.audit_merkle): appends and proofs do not grow with the log.

    python bench/audit_merkle.py [--size 1000000] [--runs 21] [--proofs 400]

Pure Python, no database: what the sealer spends in hashing, not in reading or writing its tables.

(a) Append: batches of 100 and 1,000 leaves appended to a tree of 0 and of ``--size`` leaves, given by its
    frontier (what the sealer keeps). "leaf hashes given": ``append`` alone (the interior nodes);
    "+ leaf hash": each leaf's SHA-256(0x00 || data) of a ~300-byte event as well (``hash_leaf``). Medians
    of ``--runs`` runs, each from the same frontier.
(b) Proofs from the stored perfect subtrees (``MemoryTree``, all the subtrees of the tree in memory): median
    time to build one inclusion proof (random leaf) and one consistency proof (random older size), the
    stored subtrees it reads, and the time to verify it, at 1e3 .. ``--size`` leaves. The reads grow with
    log2 n and nothing else.

Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oms.audit_merkle import (  # noqa: E402
    MemoryTree,
    append,
    consistency_proof,
    consistency_proof_coords,
    frontier_coords,
    hash_leaf,
    inclusion_proof,
    inclusion_proof_coords,
    root_from_frontier,
    verify_consistency,
    verify_inclusion,
)

EVENT_BYTES = 300  # a typical leaf: an order event's canonical JSON


def _event(i: int) -> bytes:
    return i.to_bytes(8, "big") * (EVENT_BYTES // 8)


def bench_append(trees: dict[int, MemoryTree], runs: int) -> None:
    cases = []
    for size, tree in trees.items():
        for batch in (100, 1000):
            data = [_event(size + i) for i in range(batch)]
            cases.append((size, batch, tree, data, [hash_leaf(d) for d in data]))
    given, hashed = {}, {}
    # Round robin over the cases, so a burst of load on the shared cores hits every case alike.
    for _ in range(runs):
        for size, batch, tree, data, leaves in cases:
            t0 = time.perf_counter()
            append(tree.frontier, tree.size, leaves)
            t1 = time.perf_counter()
            append(tree.frontier, tree.size, [hash_leaf(d) for d in data])
            t2 = time.perf_counter()
            given.setdefault((size, batch), []).append(t1 - t0)
            hashed.setdefault((size, batch), []).append(t2 - t1)
    print("(a) append: leaves/s, median of", runs, "runs")
    print(f"    {'tree size':>12} {'batch':>6} {'leaf hashes given':>18} {'+ leaf hash':>12}")
    for size, batch, *_ in cases:
        g, h = statistics.median(given[size, batch]), statistics.median(hashed[size, batch])
        print(f"    {size:>12,} {batch:>6,} {batch / g:>18,.0f} {batch / h:>12,.0f}")


def bench_proofs(tree: MemoryTree, sizes: list[int], count: int, rng: random.Random) -> None:
    roots = {n: _root_at(tree, n) for n in sizes}
    figures = {n: {k: [] for k in ("inc", "inc_reads", "inc_verify", "con", "con_reads", "con_verify")} for n in sizes}
    for _ in range(count):
        for n in sizes:  # round robin, as above
            f, m, old = figures[n], rng.randrange(n), rng.randrange(1, n)
            t0 = time.perf_counter()
            proof = inclusion_proof(m, n, tree.node)
            t1 = time.perf_counter()
            assert verify_inclusion(tree.node(0, m), m, n, proof, roots[n])
            t2 = time.perf_counter()
            f["inc"].append(t1 - t0)
            f["inc_verify"].append(t2 - t1)
            f["inc_reads"].append(len(inclusion_proof_coords(m, n)))
            old_root = _root_at(tree, old)
            t0 = time.perf_counter()
            proof = consistency_proof(old, n, tree.node)
            t1 = time.perf_counter()
            assert verify_consistency(old, n, old_root, roots[n], proof)
            t2 = time.perf_counter()
            f["con"].append(t1 - t0)
            f["con_verify"].append(t2 - t1)
            f["con_reads"].append(len(consistency_proof_coords(old, n)))
    print(f"\n(b) proofs from the stored subtrees: median of {count} proofs (random leaf / older size)")
    print(f"    {'tree size':>12} {'inclusion':>10} {'reads':>6} {'verify':>8} {'consistency':>12} {'reads':>6} {'verify':>8}")
    for n in sizes:
        med = {k: statistics.median(v) for k, v in figures[n].items()}
        print(f"    {n:>12,} {med['inc'] * 1e6:>8.0f}µs {med['inc_reads']:>6.0f} {med['inc_verify'] * 1e6:>6.0f}µs"
              f" {med['con'] * 1e6:>10.0f}µs {med['con_reads']:>6.0f} {med['con_verify'] * 1e6:>6.0f}µs")


def _root_at(tree: MemoryTree, n: int) -> bytes:
    # The root of the first n leaves, from the stored subtrees (a head the sealer signed then).
    return root_from_frontier([tree.node(level, i) for level, i in frontier_coords(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--proofs", type=int, default=400)
    args = parser.parse_args()

    t0 = time.perf_counter()
    big = MemoryTree()
    for lo in range(0, args.size, 100_000):
        big.append([hash_leaf(_event(i)) for i in range(lo, min(lo + 100_000, args.size))])
    built = time.perf_counter() - t0
    print(f"built a tree of {args.size:,} leaves (leaf hashes, interior nodes and an in-memory store) in {built:.2f} s:"
          f" {args.size / built:,.0f} leaves/s\n")
    bench_append({0: MemoryTree(), args.size: big}, args.runs)
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000, 10_000_000) if n < args.size] + [args.size]
    bench_proofs(big, sizes, args.proofs, random.Random(18))


if __name__ == "__main__":
    main()
