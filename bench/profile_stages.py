"""Where the time goes: akhbar's stages on a corpus sample under pyinstrument.

``python bench/profile_stages.py [--mb 200] [--sample-mb 8] [--backend langdetect|fasttext|none]``
profiles decode → segment → normalize → detect-language → classify → facts → publish (the library path the
flow's tasks call) on the first ``--sample-mb`` MB of the benchmark corpus, prints the call tree
and writes it to ``data/bench/profile-<backend>.txt``. Needs ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from corpus import CorpusSpec, generate_corpus, head_sample

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT = REPO_ROOT / "data" / "bench"


def run_stages(sample: Path, scratch: Path, backend: str) -> dict[str, float]:
    """The pipeline's stage functions in order on one file; return seconds per stage."""
    import polars as pl

    from akhbar import stages
    from akhbar.lake import prepare_lake
    from akhbar.language import detect_languages
    from akhbar.publish import publish_batch
    from akhbar.staging import transform_stage

    timings: dict[str, float] = {}

    def stage(name: str, started: float) -> float:
        """Record the time since ``started``; return now."""
        now = time.perf_counter()
        timings[name] = now - started
        return now

    def languages(frame: pl.DataFrame) -> pl.DataFrame:
        """Detect with the chosen backend, or add empty language columns."""
        if backend == "none":
            empty = [
                pl.lit(None, pl.String).alias("lang"),
                pl.lit(None, pl.Float64).alias("lang_prob"),
                pl.lit(None, pl.String).alias("lang_method"),
            ]
            return frame.with_columns(empty)
        return detect_languages(frame, backend=backend)  # type: ignore[arg-type]

    taxonomy = stages.cached_taxonomy(None)
    lake = scratch / "lake"
    prepare_lake(lake)
    options = stages.StageOptions()
    started = time.perf_counter()
    planned, _ = stages.fingerprint_files([sample])
    batch = stages.decode_batch(planned, 1, scratch / "work")
    started = stage("decode", started)
    for step in stages.STAGES:  # the flow's stage table; detection as chosen for the profile
        if step.name == "detect-language":
            batch = transform_stage(batch, "languages", languages)
            started = stage(f"detect-language ({backend})", started)
        else:
            batch = step.run(batch, options)
            started = stage(step.name, started)
    publish_batch(batch, lake, "profile", taxonomy.version)
    stage("publish", started)
    return timings


def main(argv: list[str]) -> int:
    """Profile the stages and print/write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200, help="benchmark corpus to sample from")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--sample-mb", type=float, default=8)
    parser.add_argument("--backend", choices=["langdetect", "fasttext", "none"], default="langdetect")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("profile_stages.py needs pyinstrument: pip install pyinstrument", file=sys.stderr)
        return 2
    files, _ = generate_corpus(CorpusSpec(args.mb, files=args.files), ROOT)
    sample = head_sample(files[0], files[0].parent.parent / f"sample-{args.sample_mb:g}mb.txt", args.sample_mb)
    scratch = Path(tempfile.mkdtemp(prefix="profile-", dir=ROOT))
    profiler = Profiler(interval=0.005)
    try:
        with profiler:
            timings = run_stages(sample, scratch, args.backend)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    size_mb = sample.stat().st_size / 1_000_000
    lines = [f"{args.sample_mb:g} MB sample, backend {args.backend}; seconds per stage (MB/s):"]
    lines += [f"  {name:<28} {seconds:7.2f} s  ({size_mb / seconds:7.1f} MB/s)" for name, seconds in timings.items()]
    report = "\n".join(lines) + "\n\n" + profiler.output_text(unicode=True, color=False, show_all=False)
    (ROOT / f"profile-{args.backend}.txt").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
