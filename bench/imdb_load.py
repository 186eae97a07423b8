"""Cold (from the tarball, empty cache) and warm (cached) ``imdb(num_words=10000)`` load times.

    python bench/imdb_load.py [path/to/aclImdb_labeled.tar.gz]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def main() -> int:
    default = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                           "aclImdb_labeled.tar.gz")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    with tempfile.TemporaryDirectory() as cache:
        os.environ["STATDL_CACHE"] = cache
        import statdl as sd

        t0 = time.perf_counter()
        (x, _), _ = sd.datasets.imdb(num_words=10000, path=path)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(3):
            t0 = time.perf_counter()
            (x2, _), _ = sd.datasets.imdb(num_words=10000, path=path)
            warm.append(time.perf_counter() - t0)
        assert len(x2) == 25000
    print(f"cold (tarball -> tokenise -> cache): {cold:.2f} s")
    print(f"warm (cache): best {min(warm):.2f} s, worst {max(warm):.2f} s (target < 1 s)")
    return 0 if max(warm) < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
