"""akhbar's throughput and memory benchmark (``make bench``).

On one generated corpus (``bench/corpus.py``) it runs, each in its own process:

* ``e2e``    akhbar end to end through the Prefect ``ingest`` flow (langdetect), after a warm-up run
             on a tiny file that pays the embedded server's start-up;
* ``naive``  the pandas + pyarabic + langdetect script (``bench/naive.py``) on the first
             ``--naive-mb`` MB only — at a few hundred segments per second it would take hours on the
             whole corpus — its throughput is extrapolated to the corpus and labelled so;
* ``floor``  akhbar's stage functions without language detection (decode, segment, normalize,
             classify), then facts and publishing (with empty language columns), timed separately;
* ``library`` (optional) akhbar's stage functions with detection, no Prefect;
* ``languages`` the language-detection study (``bench/language_study.py``) on the naive sample.

A memory check runs the floor on single-file corpora of 100 MB and 1 GB. Results go to
``data/bench/results.json`` (merged with earlier sections) and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from corpus import MB, CorpusSpec, generate_corpus, head_sample, sample_duplicate_share

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_ROOT = REPO_ROOT / "data" / "bench"
#: How often the process tree's memory is sampled.
RSS_SAMPLE_SECONDS = 0.05
#: Peak RSS ceiling for a 1 GB input, and how far it may drift from the 100 MB figure.
MEMORY_CEILING_BYTES = 1_500_000_000
MEMORY_DRIFT = 0.20
TARGET_E2E_OVER_NAIVE = 4.0
TARGET_FLOOR_MB_S = 40.0


class TreeMemorySampler:
    """Samples the summed RSS of a process and all its descendants in a background thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        """Current RSS of the process tree (processes that vanish mid-sample count as zero)."""
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        """Sample until stopped."""
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(RSS_SAMPLE_SECONDS)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def children_cpu_seconds() -> float:
    """User + system CPU of all finished child processes (and their waited-for descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_variant(name: str, config: dict[str, Any], scratch: Path, variant: str | None = None) -> dict[str, Any]:
    """Run one variant in its own process; return its result with the process tree's peak RSS.

    ``name`` labels the run (its files in ``scratch``); ``variant`` is the code to run (default: ``name``).
    """
    config_path = scratch / f"{name}.config.json"
    result_path = scratch / f"{name}.result.json"
    log_path = scratch / f"{name}.log"
    config_path.write_text(json.dumps(config, default=str))
    command = [sys.executable, str(BENCH_DIR / "variants.py"), variant or name, str(config_path), str(result_path)]
    print(f"→ {name} … (log: {log_path})", flush=True)
    load_before = os.getloadavg()[0]
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    with log_path.open("wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        with TreeMemorySampler(child.pid) as sampler:
            code = child.wait()
    if code != 0:
        raise RuntimeError(f"variant {name} failed with exit code {code}; see {log_path}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result["tree_peak_rss_bytes"] = sampler.peak
    result["wall_seconds"] = time.perf_counter() - started
    # CPU of the variant and every process it waited for (pool workers, the Prefect server).
    result["cpu_seconds"] = children_cpu_seconds() - cpu_before
    # Other work on the machine slows every variant: the 1-minute load average says how much there was.
    result["load_average_1m"] = {"before": load_before, "after": os.getloadavg()[0]}
    print(f"  done in {result['wall_seconds']:.1f} s", flush=True)
    return result


def throughput(result: dict[str, Any], seconds: float) -> dict[str, float]:
    """MB/s and segments/s of a result over ``seconds``."""
    return {
        "mb_per_s": result["bytes"] / MB / seconds,
        "segments_per_s": result["segments"] / seconds,
    }


def summarize_floor(result: dict[str, Any]) -> dict[str, Any]:
    """Floor throughput (decode, segment, normalize, classify), and over every stage but language detection."""
    phases = result["phases"]
    everything = phases["floor"] + phases["rest"]
    return {
        **throughput(result, phases["floor"]),
        "seconds": phases["floor"],
        "all_but_language": {**throughput(result, everything), "seconds": everything},
        "stage_busy_seconds": result["stage_seconds"],
    }


def build_configs(files: list[Path], sample: Path, warmup: Path, scratch: Path) -> dict[str, dict[str, Any]]:
    """Per-variant configuration: inputs, and private output folders under ``scratch``."""
    return {
        "e2e": {
            "files": files,
            "warmup_file": warmup,
            "lake": scratch / "lake-e2e",
            "warmup_lake": scratch / "lake-warmup",
            "prefect_home": scratch / "prefect-home",
        },
        "naive": {"sample_file": sample, "output": scratch / "naive" / "segments.parquet"},
        "floor": {"files": files, "lake": scratch / "lake-floor", "work_root": scratch / "work-floor"},
        "library": {"files": files, "lake": scratch / "lake-library", "work_root": scratch / "work-library"},
        "library_fasttext": {
            "files": files,
            "lake": scratch / "lake-library-ft",
            "work_root": scratch / "work-library-ft",
            "backend": "fasttext",
        },
        "languages": {"sample_file": sample, "work_root": scratch / "work-languages"},
    }


def main_benchmark(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Generate the corpus and run the chosen variants on it."""
    spec = CorpusSpec(args.mb, files=args.files, seed=args.seed)
    started = time.perf_counter()
    files, manifest = generate_corpus(spec, root)
    print(f"corpus {spec.name}: {int(str(manifest['bytes'])) / MB:.1f} MB in {len(files)} files, "
          f"{manifest['non_blank_lines']} non-blank lines, exact duplicates "
          f"{manifest['exact_duplicate_share']:.1%} ({time.perf_counter() - started:.1f} s)", flush=True)
    corpus_dir = files[0].parent.parent
    sample = head_sample(files[0], corpus_dir / f"sample-{args.naive_mb:g}mb.txt", args.naive_mb)
    warmup = head_sample(files[0], corpus_dir / "warmup.txt", 0.002)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    configs = build_configs(files, sample, warmup, scratch)
    results: dict[str, Any] = {
        "corpus": {**manifest, "folder": str(corpus_dir)},
        "naive_sample": {
            "file": str(sample),
            "bytes": sample.stat().st_size,
            "exact_duplicate_share": sample_duplicate_share(sample),
        },
        "variants": {},
    }
    for name in args.variants:
        variant = "library" if name == "library_fasttext" else name
        results["variants"][name] = run_variant(name, configs[name], scratch, variant)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    results["summary"] = summarize(results)
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Throughputs, ratios and target checks from the raw variant results."""
    variants = results["variants"]
    summary: dict[str, Any] = {}
    if "e2e" in variants:
        e2e = variants["e2e"]
        summary["e2e"] = {
            **throughput(e2e, e2e["seconds"]),
            "including_startup": throughput(e2e, e2e["seconds"] + e2e["startup_seconds"]),
            **{key: e2e[key] for key in ("stage_busy_seconds", "detect_language_span_seconds",
                                         "after_tasks_seconds", "run_cpu_seconds") if key in e2e},
        }
    if "naive" in variants:
        summary["naive"] = throughput(variants["naive"], variants["naive"]["seconds"])
    if "floor" in variants:
        summary["floor"] = summarize_floor(variants["floor"])
    for name in ("library", "library_fasttext"):
        if name in variants:
            seconds = variants[name]["phases"]["all"]
            summary[name] = {
                **throughput(variants[name], seconds),
                "seconds": seconds,
                "stage_busy_seconds": variants[name]["stage_seconds"],
            }
    if "e2e" in summary and "naive" in summary:
        summary["e2e_over_naive"] = summary["e2e"]["mb_per_s"] / summary["naive"]["mb_per_s"]
        summary["e2e_over_naive_including_startup"] = (
            summary["e2e"]["including_startup"]["mb_per_s"] / summary["naive"]["mb_per_s"]
        )
        summary["target_e2e_over_naive_met"] = summary["e2e_over_naive"] >= TARGET_E2E_OVER_NAIVE
    if "e2e" in summary and "floor" in summary:
        summary["e2e_over_floor"] = summary["e2e"]["mb_per_s"] / summary["floor"]["mb_per_s"]
    if "floor" in summary:
        summary["target_floor_met"] = summary["floor"]["mb_per_s"] >= TARGET_FLOOR_MB_S
    return summary


def memory_check(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Peak RSS of the floor (and optionally e2e) on single-file corpora of 100 MB and 1 GB."""
    rows: dict[str, Any] = {}
    for megabytes in args.memory_mb:
        spec = CorpusSpec(megabytes, files=args.memory_files, seed=args.seed)
        files, manifest = generate_corpus(spec, root)
        scratch = Path(tempfile.mkdtemp(prefix="mem-", dir=root))
        configs = build_configs(files, files[0], head_sample(files[0], scratch / "warmup.txt", 0.002), scratch)
        variants = ["floor", *(["e2e"] if args.memory_e2e else [])]
        for name in variants:
            result = run_variant(name, configs[name], scratch)
            key = f"{name}@{megabytes:g}MB"
            rows[key] = {
                "input_bytes": manifest["bytes"],
                "files": args.memory_files,
                "tree_peak_rss_bytes": result["tree_peak_rss_bytes"],
                "self_peak_rss_bytes": result["self_peak_rss_bytes"],
                "result": result,
                "throughput": summarize_floor(result) if name == "floor" else throughput(result, result["seconds"]),
            }
        shutil.rmtree(scratch, ignore_errors=True)
    floors = [rows[f"floor@{mb:g}MB"]["tree_peak_rss_bytes"] for mb in args.memory_mb]
    if len(floors) >= 2:
        rows["floor_drift"] = floors[-1] / floors[0] - 1
        rows["target_memory_met"] = floors[-1] <= MEMORY_CEILING_BYTES and rows["floor_drift"] <= MEMORY_DRIFT
    return rows


def fmt_mb(value: float) -> str:
    """Bytes as MB with no decimals."""
    return f"{value / MB:,.0f} MB"


def markdown(results: dict[str, Any]) -> str:
    """The table for README/docs: per variant MB/s, segments/s, peak RSS; then the ratios."""
    main = results.get("main")
    lines: list[str] = []
    if main:
        corpus, summary, variants = main["corpus"], main["summary"], main["variants"]
        sample_mb = main["naive_sample"]["bytes"] / MB
        lines += [
            f"Corpus: {corpus['bytes'] / MB:.0f} MB in {corpus['spec']['files']} files, "
            f"{corpus['non_blank_lines']:,} non-blank lines, {corpus['exact_duplicate_share']:.1%} exact repeats "
            f"(re-send probability {corpus['spec']['repeat_rate']:.0%} plus natural collisions). 2 cores.",
            "",
            "| variant | what is measured | MB/s | segments/s | peak RSS (process tree) | CPU s (all processes) "
            "| load avg before → after |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        rows = [
            ("e2e", "e2e", "akhbar `ingest` flow, langdetect, corpus run only (server already up)",
             summary.get("e2e")),
            ("e2e incl. start-up", "e2e", "same, plus process start and the embedded server's start-up",
             (summary.get("e2e") or {}).get("including_startup")),
            ("library", "library", "akhbar stage functions with langdetect, no Prefect", summary.get("library")),
            ("library (fasttext)", "library_fasttext", "akhbar stage functions with the fasttext backend, no Prefect",
             summary.get("library_fasttext")),
            ("naive", "naive", f"pandas + pyarabic + langdetect, measured on the first {sample_mb:.0f} MB, "
             "extrapolated", summary.get("naive")),
            ("floor", "floor", "akhbar decode + segment + normalize + classify, no language detection",
             summary.get("floor")),
            ("floor, all stages", "floor", "every stage but language detection: floor + facts + publishing",
             (summary.get("floor") or {}).get("all_but_language")),
        ]
        for label, key, what, numbers in rows:
            if not numbers:
                continue
            variant = variants[key]
            rss = fmt_mb(variant["tree_peak_rss_bytes"])
            load = variant.get("load_average_1m", {})
            lines.append(
                f"| {label} | {what} | {numbers['mb_per_s']:.2f} | {numbers['segments_per_s']:,.0f} | {rss} | "
                f"{variant.get('cpu_seconds', 0):,.0f} | {load.get('before', 0):.1f} → {load.get('after', 0):.1f} |"
            )
        lines.append("")
        for key, label in (
            ("e2e_over_naive", "akhbar e2e / naive"),
            ("e2e_over_naive_including_startup", "akhbar e2e incl. start-up / naive"),
            ("e2e_over_floor", "akhbar e2e / floor"),
        ):
            if key in summary:
                lines.append(f"- {label}: **{summary[key]:.2f}×**")
        lines += stage_markdown(summary)
    memory = results.get("memory")
    if memory:
        lines += ["", "| memory check | input | peak RSS (process tree) | MB/s |", "|---|---:|---:|---:|"]
        for key, row in memory.items():
            if isinstance(row, dict) and "tree_peak_rss_bytes" in row:
                lines.append(f"| {key} | {fmt_mb(row['input_bytes'])} in {row['files']} file(s) | "
                             f"{fmt_mb(row['tree_peak_rss_bytes'])} | {row['throughput']['mb_per_s']:.2f} |")
        if "floor_drift" in memory:
            lines.append(f"\nFloor peak RSS drift 100 MB → 1 GB: {memory['floor_drift']:+.1%}")
    languages = (main or {}).get("variants", {}).get("languages")
    if languages:
        lines += language_markdown(languages)
    return "\n".join(lines)


def stage_markdown(summary: dict[str, Any]) -> list[str]:
    """Where the time goes: seconds each stage was busy, summed over the file threads, per variant."""
    busy = {name: summary[name]["stage_busy_seconds"] for name in ("e2e", "floor", "library", "library_fasttext")
            if name in summary and "stage_busy_seconds" in summary[name]}
    if not busy:
        return []
    stages = list(dict.fromkeys(stage for seconds in busy.values() for stage in seconds))
    lines = [
        "",
        "Stage busy seconds, summed over the file threads (files overlap, so the sum exceeds the wall time):",
        "",
        "| stage | " + " | ".join(busy) + " |",
        "|---|" + "---:|" * len(busy),
    ]
    for stage in stages:
        cells = [f"{seconds[stage]:.1f}" if stage in seconds else "" for seconds in busy.values()]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    e2e = summary.get("e2e", {})
    if "detect_language_span_seconds" in e2e:
        lines += [
            "",
            f"e2e (task runs of the flow run): language detection, one batch at a time, spans "
            f"{e2e['detect_language_span_seconds']:.1f} s of the run; after the last task run (run record, "
            f"artifacts, lake report) {e2e['after_tasks_seconds']:.1f} s; CPU of the process tree during the "
            f"run {e2e['run_cpu_seconds']:.1f} s.",
        ]
    return lines


def language_markdown(study: dict[str, Any]) -> list[str]:
    """The language study as markdown: prefix agreement and backend comparison."""
    backends = study["backends"]
    lines = [
        "",
        f"Language detection on the naive sample: {study['segments']:,} segments, "
        f"{study['distinct_text_norm']:,} distinct `text_norm`, "
        f"{study['distinct_prefixes'].get(str(study['prefix_chars_in_use']), '?')} distinct "
        f"{study['prefix_chars_in_use']}-character prefixes.",
        "",
        "| prefix chars | CPU ms/text (langdetect) | agreement with full text | on Arabic | weighted by segments |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in study["prefix_agreement"]:
        if row["prefix_chars"] is None:
            lines.append(f"| full text | {row['ms_per_text']:.2f} | — | — | — |")
            continue
        lines.append(f"| {row['prefix_chars']} | {row['ms_per_text']:.2f} | {row['agreement']:.2%} | "
                     f"{row['agreement_on_arabic']:.2%} | {row['agreement_weighted_by_segments']:.2%} |")
    lines += [
        "",
        f"- fasttext backend: {backends['fasttext_speedup_vs_serial']:.0f}× faster than langdetect (batch "
        f"detector); agrees with langdetect on "
        f"{backends['fasttext_agreement']:.2%} of segments, {backends['fasttext_agreement_on_arabic']:.2%} of "
        f"segments langdetect calls Arabic",
    ]
    return lines


def merge_results(path: Path, update: dict[str, Any]) -> dict[str, Any]:
    """Merge this run's sections into the results file (earlier sections are kept)."""
    existing: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    existing.update(update)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(existing, indent=2, default=str))
    return existing


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200, help="corpus size in MB (10^6 bytes)")
    parser.add_argument("--files", type=int, default=8, help="corpus files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--naive-mb", type=float, default=4, help="sample the naive baseline runs on")
    parser.add_argument("--variants", type=lambda s: s.split(","), default=["floor", "naive", "languages", "e2e"],
                        help="comma-separated: e2e, naive, floor, library, library_fasttext, languages")
    parser.add_argument("--memory-mb", type=lambda s: [float(x) for x in s.split(",")], default=[100, 1000],
                        help="corpus sizes for the memory check")
    parser.add_argument("--memory-files", type=int, default=1, help="files per memory-check corpus")
    parser.add_argument("--memory-e2e", action="store_true", help="also run e2e in the memory check (slow)")
    parser.add_argument("--no-main", action="store_true", help="skip the main benchmark")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--keep", action="store_true", help="keep lakes and logs of the run")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where corpora and results go")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the benchmark, write results JSON and print the markdown table."""
    args = parse_args(argv)
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    update: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "memory_bytes": psutil.virtual_memory().total, "python": sys.version},
    }
    if not args.no_main:
        update["main"] = {**main_benchmark(args, root), "finished_at": datetime.now(UTC).isoformat()}
    if not args.no_memory:
        update["memory"] = {**memory_check(args, root), "finished_at": datetime.now(UTC).isoformat()}
    results = merge_results(root / "results.json", update)
    table = markdown(results)
    (root / "results.md").write_text(table + "\n")
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
