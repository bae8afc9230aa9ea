#!/usr/bin/env python3
"""Local work at scale: `imagelock lock` of 10k/20k/40k/80k pins against ucloud-sim with no latency.

Each run locks E entries × 8 regions into a fresh lockfile; the API part is a handful of
listings (8 regions, pages of 500), so the wall time is imagelock's own work: reading and
validating the spec, choosing every pin from its listing, rendering and writing the lockfile.
Local work must grow linearly with the number of pins (see BENCHMARKS.md, section D).

  bench/lockscale.py --imagelock target/release/imagelock --sim target/release/ucloud-sim
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Sim, env_for, log, run_timed  # noqa: E402

REGIONS = 8
SELECTS = ["newest", "oldest", "highest_version"]


def write_spec(path, entries, regions):
    with open(path, "w") as f:
        f.write("version: 1\ndefaults:\n  regions: [%s]\n  filters: { os_type: Linux, image_type: Base }\nimages:\n"
                % ", ".join(regions))
        for i in range(entries):
            f.write("  e%05d:\n    select: %s\n" % (i, SELECTS[i % len(SELECTS)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--imagelock", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pins", default="10000,20000,40000,80000")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        catalog = os.path.join(work, "catalog.json")
        code = os.system("%s generate --regions %d --per-region 300 --seed 4 > %s"
                         % (args.sim, REGIONS, catalog))
        if code != 0:
            sys.exit("ucloud-sim generate failed")
        import json
        with open(catalog) as f:
            regions = sorted(json.load(f).keys())
        sim = Sim(args.sim, catalog, 0, 500)
        try:
            print("| pins | entries | median wall time | runs | per 10k pins | API requests |")
            print("|---|---|---|---|---|---|")
            for pins in [int(p) for p in args.pins.split(",")]:
                entries = pins // REGIONS
                spec = os.path.join(work, "spec-%d.yaml" % pins)
                write_spec(spec, entries, regions)
                times = []
                for run in range(args.runs):
                    lock = os.path.join(work, "lock-%d-%d.lock" % (pins, run))
                    sim.reset()
                    t, code, _, _ = run_timed(
                        [args.imagelock, "-q", "-f", spec, "--lock", lock, "--page-size", "500", "lock"],
                        env=env_for(sim.url))
                    if code != 0:
                        sys.exit("lock failed at %d pins" % pins)
                    times.append(t)
                    log("%d pins, run %d: %.3f s" % (pins, run + 1, t))
                requests = sim.stats()["total"]
                median = statistics.median(times)
                print("| %s | %s | **%.3f s** | %d | %.3f s | %d |"
                      % (f"{pins:,}", f"{entries:,}", median, len(times), median / pins * 10000, requests))
        finally:
            sim.stop()


if __name__ == "__main__":
    main()
