"""Reads `perf script` output (with call graphs) on stdin and prints where the gateway's CPU
samples go: the committer (and within it each store step), request handling (signature,
parsing), sled's own threads, and the rest (hyper, tokio, kernel)."""

import collections
import sys

# First match wins: (bucket, substring of some frame in the sample's stack).
RULES = [
    ("committer: dedup confirmation (chunk read)", "ChunkCache::holds_any"),
    ("committer: chunk, digest row and counters insert", "InboxStore::append"),
    ("committer: flush (sled)", "Db::flush"),
    ("committer: flush (sled)", "Tree::flush"),
    ("committer: fdatasync", "sync_data"),
    ("committer: other", "Committer::run"),
    ("request: signature (HMAC-SHA256)", "Verifier::verify"),
    ("request: parse (serde_json)", "parse_batch"),
    ("request: dedup digest", "dedup_digest"),
    ("request: other handler", "Ingress::handle"),
    ("request: router/body", "api::router"),
    ("hyper/tokio/kernel", ""),
]


def classify(comm, frames):
    if comm.startswith("sled-io") or comm == "log flusher":
        return "sled threads (" + ("io pool" if comm.startswith("sled-io") else comm) + ")"
    for bucket, needle in RULES:
        if not needle or any(needle in frame for frame in frames):
            return bucket
    return "?"


def main():
    counts = collections.Counter()
    comm, frames = None, []
    for line in sys.stdin:
        if not line.strip():
            if comm is not None:
                counts[classify(comm, frames)] += 1
            comm, frames = None, []
        elif not line.startswith((" ", "\t")):
            comm = line.split()[0]
        else:
            frames.append(line.strip())
    if comm is not None:
        counts[classify(comm, frames)] += 1
    total = sum(counts.values()) or 1
    print(f"{total} samples")
    for bucket, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"{100 * count / total:6.1f}%  {bucket}")


if __name__ == "__main__":
    main()
