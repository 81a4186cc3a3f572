#!/usr/bin/env python3
"""City-scale speed: time the real ``premium-debit`` CLI against the I/O floor of each stage.

    python bench/run.py --residents N [--reps R] [--seed S] [--keep]

1. Inputs for N residents are generated once (``generate_campaign``) and cached under
   ``bench/.cache/<N>-<seed>/`` with a copy of the sample configuration (workdir ``var``,
   relative to the configuration file).
2. Each rep gets a fresh work folder and runs, as subprocesses of the installed CLI:
   ``build`` (timed: wall seconds, the child's peak RSS from ``os.wait4``), ``simulate-bank``
   (``simulate_bank`` with profile ``pilot``; untimed), then ``reconcile`` (timed the same way).
3. The I/O floor of each stage: reading the stage's input files and writing the bytes the
   stage wrote, with polars and the standard library and nothing else (see ``bench/README.md``).
   Each floor runs in a fresh interpreter of this script (``--floor SPEC``) so that its peak
   RSS is its own; its time is measured inside that interpreter around the I/O only, so it
   excludes the interpreter's start-up and ``import polars``.
4. ``premium-debit --version`` is timed as the ``startup`` row: it is part of every CLI stage.

Prints a table (median wall seconds over the reps, rows per second = N / median, peak RSS,
stage / floor) and writes the same, with the machine facts, to ``bench/results/<N>-<seed>.json``.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"

BUILD_DAY = "2026-11-29"  # the generator's as_of: the due lists are for this business date
RECONCILE_DAY = "2026-11-30"
PROFILE = "pilot"
STAGES = ("build", "reconcile", "floor-build", "floor-reconcile", "startup")
FLOOR_OF = {"build": "floor-build", "reconcile": "floor-reconcile"}

_UTF8_BOM = codecs.BOM_UTF8
_CHUNK = 1 << 24  # the reader validates UTF-8 in 16 MiB chunks; the floor does the same
# Workdir entries that are not stage output for the floor: the ledger is the stage's own work,
# the lock and the JSON-lines log are bookkeeping.
_NOT_OUTPUT = ("ledger", ".lock", "logs")  # ledger: ledger.sqlite and its -wal/-journal


# --------------------------------------------------------------------------------------------
# Inputs, cached per (residents, seed)


def prepare_inputs(residents: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The cache folder for (residents, seed), generated on first use; returns it and its
    ``campaign.json`` (due file names in configuration order, registry, paid, generation time)."""
    folder = CACHE / f"{residents}-{seed}"
    manifest = folder / "campaign.json"
    if manifest.exists():
        return folder, json.loads(manifest.read_text("utf-8"))

    partial = CACHE / f"{residents}-{seed}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating inputs for {residents:,} residents (seed {seed}) ...", flush=True)
    started = time.perf_counter()
    argv = [sys.executable, __file__, "--generate-into", str(partial)]
    subprocess.run([*argv, "--residents", str(residents), "--seed", str(seed)], check=True)
    seconds = time.perf_counter() - started
    campaign = json.loads((partial / "campaign.json").read_text("utf-8"))
    campaign["generated_s"] = round(seconds, 3)
    (partial / "campaign.json").write_text(json.dumps(campaign, indent=2), "utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # only a complete generation is ever found in the cache
    print(f"generated in {seconds:.1f} s: {folder}", flush=True)
    return folder, campaign


def generate_main(folder: Path, residents: int, seed: int) -> None:
    """In a child interpreter (the harness stays small, see ``timed_child``): the campaign's
    inputs, the sample configuration and ``campaign.json`` into ``folder``."""
    from importlib import resources

    from premium_debit.simulate.generate import generate_campaign

    files = generate_campaign(folder / "inputs", residents=residents, seed=seed)
    sample = resources.files("premium_debit").joinpath("sample_config.toml").read_text("utf-8")
    (folder / "premium-debit.toml").write_text(sample, "utf-8")
    campaign = {
        "residents": residents,
        "seed": seed,
        "due": [p.name for p in files.due],
        "registry": files.registry.name,
        "paid": files.paid.name,
        "bytes": sum(p.stat().st_size for p in (folder / "inputs").iterdir()),
    }
    (folder / "campaign.json").write_text(json.dumps(campaign, indent=2), "utf-8")


# --------------------------------------------------------------------------------------------
# Running the CLI


def cli_path() -> str:
    """The console script beside this interpreter (no pyenv shim in the timing), else PATH's."""
    beside = Path(sys.executable).parent / "premium-debit"
    if beside.exists():
        return str(beside)
    found = shutil.which("premium-debit")
    if found is None:
        sys.exit("premium-debit is not installed: cd to the repository and pip install -e .")
    return found


def timed_child(argv: Sequence[str], log_stem: Path) -> tuple[float, float, int]:
    """Run ``argv`` with stdout/stderr to ``<log_stem>.out/.err``; returns wall seconds, the
    child's peak RSS in MB (``ru_maxrss`` from ``os.wait4``) and its exit code.

    Linux carries the memory image's high-water mark across fork and exec, so a child's
    ``ru_maxrss`` is at least the harness's RSS when it forked: that is why this process never
    imports polars or premium_debit (generation, the bank and the floors run in children)."""
    with open(f"{log_stem}.out", "wb") as out, open(f"{log_stem}.err", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, cwd=log_stem.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen did not reap it: tell it
    return wall, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is in KiB on Linux


def run_stage(name: str, argv: Sequence[str], log_stem: Path) -> tuple[float, float]:
    wall, rss, code = timed_child(argv, log_stem)
    if code != 0:
        tail = Path(f"{log_stem}.err").read_text("utf-8", errors="replace").strip()[-2000:]
        sys.exit(f"{name} exited {code} (a transient error? rerun):\n{tail}")
    return wall, rss


def snapshot(workdir: Path) -> dict[Path, tuple[int, int]]:
    """Every file under the workdir with its size and mtime, to tell what a stage wrote."""
    return {
        p: (p.stat().st_size, p.stat().st_mtime_ns)
        for p in workdir.rglob("*")
        if p.is_file() and not p.relative_to(workdir).parts[0].startswith(_NOT_OUTPUT)
    }


def written(before: dict[Path, tuple[int, int]], workdir: Path) -> list[Path]:
    after = snapshot(workdir)
    return sorted(p for p, facts in after.items() if before.get(p) != facts)


def bank_encodings(config: Path) -> dict[str, str]:
    with config.open("rb") as fh:
        raw = tomllib.load(fh)
    return {bank["code"]: bank["encoding"] for bank in raw["banks"]}


def output_entries(
    paths: list[Path], workdir: Path, encodings: dict[str, str]
) -> list[dict[str, Any]]:
    """How the floor rewrites each output: request files in their bank's encoding, reports'
    CSV and JSON in UTF-8 (a BOM survives as U+FEFF), anything else (archived input copies, a
    workbook) as bytes."""
    entries = []
    for path in paths:
        top = path.relative_to(workdir).parts[0]
        encoding: str | None = None
        if top == "outbox" and path.suffix == ".req":
            encoding = encodings[path.name.split("_", 1)[0]]
            category = "requests"
        elif top == "reports":
            encoding = "utf-8" if path.suffix in (".csv", ".json") else None
            category = "reports"
        else:
            category = top  # archive: the stage's copy of each ingested file
        entries.append({"path": str(path), "encoding": encoding, "category": category})
    return entries


def run_floor(spec: dict[str, Any], spec_path: Path) -> tuple[float, float, dict[str, Any]]:
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    log_stem = spec_path.with_suffix("")
    _, rss, code = timed_child([sys.executable, __file__, "--floor", str(spec_path)], log_stem)
    if code != 0:
        tail = Path(f"{log_stem}.err").read_text("utf-8", errors="replace")[-2000:]
        sys.exit(f"floor exited {code}:\n{tail}")
    detail = json.loads(Path(f"{log_stem}.out").read_text("utf-8"))
    return float(detail["total_s"]), rss, detail


# --------------------------------------------------------------------------------------------
# The floor: a fresh interpreter with polars and the standard library only


def _utf8_or_gb18030(raw: bytes) -> bytes:
    """What the tabular reader hands polars: a BOM stripped, valid UTF-8 as is (validated in
    chunks), anything else decoded as strict GB18030 and re-encoded as UTF-8."""
    start = len(_UTF8_BOM) if raw.startswith(_UTF8_BOM) else 0
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(raw)
    try:
        for pos in range(start, len(raw), _CHUNK):
            decoder.decode(view[pos : pos + _CHUNK], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        if start:
            raise
        return raw.decode("gb18030").encode("utf-8")
    return raw[start:] if start else raw


def floor_main(spec_path: Path) -> None:
    """Time reading the stage's inputs and writing its outputs' bytes; print JSON."""
    import polars as pl

    spec = json.loads(spec_path.read_text("utf-8"))
    scratch = Path(spec["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    # Untimed: the outputs as the stage held them before writing, decoded text (or bytes).
    outputs = []
    for entry in spec["writes"]:
        data = Path(entry["path"]).read_bytes()
        text = data.decode(entry["encoding"]) if entry["encoding"] else data
        outputs.append((entry, text, len(data)))

    kept: list[
        pl.DataFrame | pl.Series
    ] = []  # a stage holds its inputs while it writes: so does the floor
    started = time.perf_counter()
    bytes_read = 0
    for entry in spec["reads"]:
        raw = Path(entry["path"]).read_bytes()
        bytes_read += len(raw)
        if entry["kind"] == "tabular":
            kept.append(pl.read_csv(_utf8_or_gb18030(raw), has_header=False, infer_schema=False))
        else:  # a bank file: decoded in the bank's encoding, split into lines
            text = raw.decode(entry["encoding"])
            lines = pl.Series("raw", [text]).str.split("\n").explode().str.strip_suffix("\r")
            kept.append(lines)
    read_s = time.perf_counter() - started

    write_s: dict[str, float] = {}
    bytes_written = 0
    for i, (entry, text, size) in enumerate(outputs):
        t0 = time.perf_counter()
        data = text.encode(entry["encoding"]) if isinstance(text, str) else text
        with open(scratch / f"{i:05d}-{Path(entry['path']).name}", "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        category = entry["category"]
        write_s[category] = write_s.get(category, 0.0) + time.perf_counter() - t0
        if len(data) != size:  # the floor must write exactly the stage's bytes
            sys.exit(f"re-encoding {entry['path']} gave {len(data)} bytes, not {size}")
        bytes_written += size
    total = time.perf_counter() - started
    json.dump(
        {
            "total_s": total,
            "read_s": read_s,
            "write_s": write_s,
            "bytes_read": bytes_read,
            "bytes_written": bytes_written,
            "files_read": len(spec["reads"]),
            "files_written": len(outputs),
            "rows_read": sum(len(k) for k in kept),  # CSV header lines included
        },
        sys.stdout,
    )


# --------------------------------------------------------------------------------------------
# One rep


def one_rep(
    rep: int, folder: Path, campaign: dict[str, Any], seed: int, cli: str
) -> dict[str, Any]:
    run = folder / "runs" / f"rep-{rep}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    config = run / "premium-debit.toml"
    shutil.copyfile(folder / "premium-debit.toml", config)
    workdir = run / "var"
    inputs = folder / "inputs"
    due = [inputs / name for name in campaign["due"]]
    registry = inputs / campaign["registry"]
    encodings = bank_encodings(config)
    result: dict[str, Any] = {}

    wall, rss, _ = timed_child([cli, "--version"], run / "startup")
    result["startup"] = {"wall_s": wall, "rss_mb": rss}

    # build
    workdir.mkdir()
    before = snapshot(workdir)
    argv = [cli, "build", "--config", str(config), "--as-of", BUILD_DAY]
    argv += ["--due", *map(str, due), "--registry", str(registry)]
    wall, rss = run_stage("build", argv, run / "build")
    result["build"] = {"wall_s": wall, "rss_mb": rss}
    build_out = written(before, workdir)
    reads = [{"path": str(p), "kind": "tabular", "encoding": None} for p in [*due, registry]]
    spec = {
        "reads": reads,
        "writes": output_entries(build_out, workdir, encodings),
        "scratch": str(run / "floor-build.scratch"),
    }
    wall, rss, detail = run_floor(spec, run / "floor-build.json")
    result["floor-build"] = {"wall_s": wall, "rss_mb": rss, "detail": detail}
    result["instructed"] = _summary_count(build_out, "buckets", "instructed")

    # the bank answers (untimed): simulate_bank through the CLI's simulate-bank
    requests = sorted((workdir / "outbox").rglob("*.req"))
    bank = run / "bank"
    argv = [cli, "simulate-bank", "--config", str(config), "--as-of", RECONCILE_DAY]
    argv += [*map(str, requests), "--out", str(bank), "--seed", str(seed), "--profile", PROFILE]
    run_stage("simulate-bank", argv, run / "simulate-bank")
    results = sorted(bank.glob("*.ret"))

    # reconcile
    before = snapshot(workdir)
    argv = [cli, "reconcile", "--config", str(config), "--as-of", RECONCILE_DAY]
    wall, rss = run_stage("reconcile", [*argv, *map(str, results)], run / "reconcile")
    result["reconcile"] = {"wall_s": wall, "rss_mb": rss}
    reconcile_out = written(before, workdir)
    reads = [
        {"path": str(p), "kind": "bank", "encoding": encodings[p.name.split("_", 1)[0]]}
        for p in results
    ]
    spec = {
        "reads": reads,
        "writes": output_entries(reconcile_out, workdir, encodings),
        "scratch": str(run / "floor-reconcile.scratch"),
    }
    wall, rss, detail = run_floor(spec, run / "floor-reconcile.json")
    result["floor-reconcile"] = {"wall_s": wall, "rss_mb": rss, "detail": detail}
    result["request_files"] = len(requests)
    return result


def _summary_count(paths: list[Path], *keys: str) -> int | None:
    """A count from the stage's summary.json (None if the layout changed)."""
    for path in paths:
        if path.name == "summary.json":
            node: Any = json.loads(path.read_text("utf-8"))
            for key in keys:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            count = node.get("count") if isinstance(node, dict) else None
            return int(count) if isinstance(count, int) else None
    return None


# --------------------------------------------------------------------------------------------
# Facts and the table


def machine_facts(cli: str) -> dict[str, Any]:
    from importlib.metadata import version  # not import polars: the harness stays small

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "polars": version("polars"),
        "premium_debit": version("premium-debit"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "cli": cli,
    }


def summarise(residents: int, reps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        walls = [r[stage]["wall_s"] for r in reps]
        rss = [r[stage]["rss_mb"] for r in reps]
        median = statistics.median(walls)
        stages[stage] = {
            "wall_s": [round(w, 4) for w in walls],
            "median_s": round(median, 4),
            "rows_per_s": None if stage == "startup" else round(residents / median),
            "peak_rss_mb": round(max(rss), 1),
        }
    startup = stages["startup"]["median_s"]
    for stage, floor in FLOOR_OF.items():
        median, floor_s = stages[stage]["median_s"], stages[floor]["median_s"]
        stages[stage]["ratio_to_floor"] = round(median / floor_s, 2)
        # The same without the CLI's start-up, which the floor does not pay (JSON only).
        stages[stage]["ratio_to_floor_minus_startup"] = round((median - startup) / floor_s, 2)
    return stages


def table(residents: int, reps: int, stages: dict[str, dict[str, Any]]) -> str:
    head = f"{'stage':<16} {'median s':>10} {'rows/s':>12} {'peak RSS MB':>12} {'× floor':>8}"
    lines = [f"{residents:,} residents, {reps} rep(s)", head, "-" * len(head)]
    for stage in STAGES:
        s = stages[stage]
        rate = f"{s['rows_per_s']:,}" if s["rows_per_s"] is not None else "—"
        ratio = f"{s['ratio_to_floor']:.1f}" if "ratio_to_floor" in s else "—"
        lines.append(
            f"{stage:<16} {s['median_s']:>10.3f} {rate:>12} {s['peak_rss_mb']:>12.0f} {ratio:>8}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, metavar="N")
    parser.add_argument("--reps", type=int, default=3, metavar="R")
    parser.add_argument("--seed", type=int, default=2027, metavar="S")
    parser.add_argument("--keep", action="store_true", help="keep each rep's work folder")
    # internal: the children that run generation and the floors
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor is not None:
        floor_main(args.floor)
        return 0
    if args.generate_into is not None:
        generate_main(args.generate_into, args.residents, args.seed)
        return 0
    if args.residents is None or args.residents < 1 or args.reps < 1:
        parser.error("--residents N (≥ 1) is required and --reps must be ≥ 1")

    cli = cli_path()
    facts = machine_facts(cli)
    folder, campaign = prepare_inputs(args.residents, args.seed)
    shutil.rmtree(folder / "runs", ignore_errors=True)  # earlier --keep folders
    reps = []
    for rep in range(1, args.reps + 1):
        print(f"rep {rep}/{args.reps} ...", flush=True)
        reps.append(one_rep(rep, folder, campaign, args.seed, cli))
        if not args.keep:
            shutil.rmtree(folder / "runs" / f"rep-{rep}")
    if not args.keep:
        shutil.rmtree(folder / "runs", ignore_errors=True)

    stages = summarise(args.residents, reps)
    print()
    print(table(args.residents, args.reps, stages))
    report = {
        "residents": args.residents,
        "seed": args.seed,
        "reps": args.reps,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_as_of": BUILD_DAY,
        "reconcile_as_of": RECONCILE_DAY,
        "bank_profile": PROFILE,
        "machine": facts,
        "inputs": campaign,
        "stages": stages,
        "per_rep": reps,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{args.residents}-{args.seed}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"\nwritten: {out.relative_to(REPO)}")
    if args.keep:
        print(f"work folders: {(folder / 'runs').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
