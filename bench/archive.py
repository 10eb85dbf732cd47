"""Small files against feed files, on real news (``make bench`` runs it after the main benchmark).

From ``../shared/data/news_corpus.jsonl.gz`` (ANT Corpus v2.1; A. Chouigui, O. Ben Khiroun,
B. Elayeb, "ANT Corpus: An Arabic News Text Collection for Textual Classification", AICCSA 2017) it
writes the same articles in the two shapes users receive:

* ``archive``: a scrape archive, one small file per article (title, then its paragraphs);
* ``feeds``: feed exports, one file per outlet and section, the same lines, a blank line between
  articles.

Each shape goes through the Prefect ``ingest`` flow in its own process (after a warm-up run that
pays the embedded server's start-up). Measured: MB/s, segments/s, peak RSS of the process tree, the
data files each dataset holds after the run, the "Subscription queue is full" lines of the Prefect
server (events dropped), and DuckDB's ``GROUP BY topic`` over each lake's segments, read as plain
Parquet and through akhbar's Delta views. Skips with a message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import DEFAULT_ROOT, REPO_ROOT, merge_results, run_variant

CORPUS = REPO_ROOT.parent / "shared" / "data" / "news_corpus.jsonl.gz"
DROPPED_EVENTS = "Subscription queue is full"
GOAL_SMALL_OVER_FEED = 2 / 3
GOAL_DATA_FILES = 20


def write_shapes(corpus: Path, articles: int, root: Path) -> tuple[Path, Path, dict[str, int]]:
    """The first ``articles`` articles (with paragraphs) as a scrape archive and as feed files."""
    archive, feeds = root / "archive", root / "feeds"
    archive.mkdir(parents=True)
    feeds.mkdir(parents=True)
    feed_lines: dict[str, list[str]] = {}
    written = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            article = json.loads(line)
            paragraphs = [p.strip() for p in article["paragraphs"] if p.strip()]
            if not paragraphs:
                continue
            text = [article["title"].strip(), *paragraphs]
            folder = archive / article["outlet"] / article["category"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{article['id']}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
            feed_lines.setdefault(f"{article['outlet']}-{article['category']}", []).extend([*text, ""])
            written += 1
            if written == articles:
                break
    for name, text in feed_lines.items():
        (feeds / f"{name}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    return archive, feeds, {"articles": written, "feed_files": len(feed_lines)}


def duckdb_seconds(lake: Path, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` for GROUP BY topic over the segments: plain Parquet glob, and akhbar's view."""
    import duckdb

    from akhbar.analytics import open_lake

    def best(run: Any) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return min(times)

    glob = str(lake / "segments" / "*.parquet")
    plain = best(lambda: duckdb.sql(f"SELECT topic, count(*) FROM read_parquet('{glob}') GROUP BY topic").fetchall())
    with open_lake(lake) as connection:
        view = best(lambda: connection.sql("SELECT topic, count(*) FROM segments GROUP BY topic").fetchall())
    return {"plain_parquet": plain, "delta_view": view}


def measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Run both shapes through the flow and collect the figures."""
    scratch = Path(tempfile.mkdtemp(prefix="archive-", dir=root))
    archive, feeds, counts = write_shapes(CORPUS, args.articles, scratch / "input")
    warmup = scratch / "warmup.txt"
    warmup.write_text("ارتفعت أسعار الذهب اليوم\n", encoding="utf-8")
    # Half the archive, to see whether memory grows with the number of files.
    half = scratch / "input" / "archive-half"
    for path in sorted(archive.rglob("*.txt"))[: counts["articles"] // 2]:
        target = half / path.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    results: dict[str, Any] = {"corpus": str(CORPUS), **counts}
    for name, folder in (("feeds", feeds), ("archive", archive), ("archive_half", half)):
        files = sorted(folder.rglob("*.txt"))
        config = {
            "files": [str(f) for f in files],
            "paths": [str(folder)],
            "lake": str(scratch / f"lake-{name}"),
            "warmup_file": str(warmup),
            "warmup_lake": str(scratch / f"lake-warmup-{name}"),
            "prefect_home": str(scratch / f"prefect-home-{name}"),
        }
        result = run_variant(name, config, scratch, "e2e")
        lake = Path(config["lake"])
        log = (scratch / f"{name}.log").read_text(errors="replace")
        result.update(
            files=len(files),
            mb_per_s=result["bytes"] / 1e6 / result["seconds"],
            segments_per_s=result["segments"] / result["seconds"],
            data_files={d.name: len(list(d.glob("*.parquet"))) for d in sorted(lake.iterdir()) if d.is_dir()
                        and (d / "_delta_log").is_dir()},
            dropped_event_lines=log.count(DROPPED_EVENTS),
            duckdb_group_by_topic_seconds=duckdb_seconds(lake),
        )
        results[name] = result
    feed, small, half_result = results["feeds"], results["archive"], results["archive_half"]
    results["goals"] = {
        "peak_rss_growth_half_to_full": small["tree_peak_rss_bytes"] / half_result["tree_peak_rss_bytes"] - 1,
        "small_over_feed_mb_s": small["mb_per_s"] / feed["mb_per_s"],
        "small_over_feed_met": small["mb_per_s"] >= GOAL_SMALL_OVER_FEED * feed["mb_per_s"],
        "data_files_met": max(small["data_files"].values()) <= GOAL_DATA_FILES,
        "no_dropped_events": small["dropped_event_lines"] == feed["dropped_event_lines"] == 0,
    }
    return results


def markdown(results: dict[str, Any]) -> str:
    """The comparison as a markdown table."""
    lines = [
        f"Real news, {results['articles']:,} articles (ANT Corpus v2.1): one file per article vs "
        f"{results['feed_files']} feed files, each through the Prefect flow.",
        "",
        "| shape | files | MB | MB/s | segments/s | peak RSS | data files per dataset (max) | dropped-event lines "
        "| DuckDB GROUP BY topic (Parquet glob / Delta view) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("archive", "archive_half", "feeds"):
        r = results[name]
        query = r["duckdb_group_by_topic_seconds"]
        lines.append(
            f"| {name} | {r['files']:,} | {r['bytes'] / 1e6:.1f} | {r['mb_per_s']:.2f} | {r['segments_per_s']:,.0f} | "
            f"{r['tree_peak_rss_bytes'] / 1e6:,.0f} MB | {max(r['data_files'].values())} | "
            f"{r['dropped_event_lines']} | "
            f"{query['plain_parquet'] * 1000:.0f} ms / {query['delta_view'] * 1000:.0f} ms |"
        )
    goals = results["goals"]
    lines += [
        "",
        f"- small files / feeds MB/s: {goals['small_over_feed_mb_s']:.2f} (goal ≥ 0.67: "
        f"{'met' if goals['small_over_feed_met'] else 'NOT met'}); ≤ {GOAL_DATA_FILES} data files per dataset: "
        f"{'met' if goals['data_files_met'] else 'NOT met'}; no dropped events: "
        f"{'met' if goals['no_dropped_events'] else 'NOT met'}; peak RSS, half the archive → all of it: "
        f"{goals['peak_rss_growth_half_to_full']:+.1%}",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Build both shapes, run them, print and record the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=6000, help="articles taken from the corpus (≥ 5,000)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where inputs and results go")
    args = parser.parse_args(argv)
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent")
        return 0
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    results = measure(args, root)
    merge_results(root / "results.json", {"archive": results})
    table = markdown(results)
    (root / "archive.md").write_text(table + "\n")
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
