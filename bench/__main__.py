"""`python -m bench SCENARIO …`: the same as `vaxbook bench SCENARIO …` (bench/command.py)."""

from bench.command import bench

if __name__ == "__main__":
    bench(prog_name="python -m bench")
