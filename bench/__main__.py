"""`python -m bench NAME [--rows N]`, or `python -m bench all`: each benchmark prints
one JSON object on stdout (progress, if any, goes to stderr)."""

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys

# name -> module with run(rows=None) -> dict
BENCHMARKS = {
    "import": "bench.imports",
    "pages": "bench.pages",
    "export": "bench.export",
    "notices": "bench.notices",
    "load": "bench.load",
    "api": "bench.api",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--rows", type=int, help="scale the benchmark down (or up)")
    parser.add_argument(
        "--empty",
        action="store_true",
        help="import: into an empty database (default: a second incident on a busy table)",
    )
    args = parser.parse_args(argv)
    if args.name == "all":
        return _run_all(args.rows)
    module = importlib.import_module(BENCHMARKS[args.name])
    options = {"empty": True} if args.empty else {}
    if options and args.name != "import":
        parser.error("--empty is for the import benchmark")
    outcome = module.run(args.rows, **options) if args.rows else module.run(**options)
    print(json.dumps(outcome), flush=True)
    return 0


def _run_all(rows: int | None) -> int:
    # One process each: every benchmark sets Django up on a database of its own, and
    # its peak memory is then its own.
    failed = []
    for name, module in BENCHMARKS.items():
        if importlib.util.find_spec(module) is None:
            print(f"bench: {name}: not written yet ({module})", file=sys.stderr)
            continue
        command = [sys.executable, "-m", "bench", name]
        if rows:
            command += ["--rows", str(rows)]
        if subprocess.run(command, check=False).returncode:  # noqa: S603
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
