"""imagelock's speed benchmark against the simulator, with a naive baseline measured in the same run.

Run through bench/run.sh, which builds the release binaries and the SDK venv first. Prints a
Markdown report on stdout (progress on stderr); BENCHMARKS.md records one.

Workloads:
  A. 4 regions x 300 images, 40-entry spec: imagelock `lock` (fresh lockfile each run) vs the
     naive SDK baseline, request counts from /__sim/stats, no listing page fetched twice.
  B. 20 regions x 2,000 images, 200-entry spec: imagelock `lock`, wall time and peak memory.
  C. `check` (and `get`) on a 5,000-entry spec with its lockfile: no network, local cost only.
  D. Workload A against a rate-limited API (`ucloud-sim --max-in-flight 2`: RetCode 153 above two
     requests in flight): imagelock as shipped (adaptive), imagelock told the limit
     (`--concurrency 2`, never refused), and the naive baseline (one at a time).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import specgen  # noqa: E402

PUBLIC = "ucloud-sim-demo-public-key"
PRIVATE = "ucloud-sim-demo-private-key"
TIME = "/usr/bin/time"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Sim:
    def __init__(self, binary, catalog, latency_ms, page_cap, extra=()):
        self.proc = subprocess.Popen(
            [binary, "serve", "--catalog", catalog, "--latency-ms", str(latency_ms),
             "--page-cap", str(page_cap)] + list(extra),
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError("ucloud-sim did not start: %r" % line)
        self.url = line[len("listening on "):]

    def _call(self, path, method="GET"):
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def reset(self):
        self._call("/__sim/reset-stats", "POST")

    def stats(self):
        return self._call("/__sim/stats")

    def requests(self):
        return self._call("/__sim/requests")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def run_timed(argv, env=None, measure_rss=False):
    """(seconds, exit code, stdout, max RSS in KiB or None)."""
    use_time = measure_rss and os.access(TIME, os.X_OK)
    if use_time:
        argv = [TIME, "-v"] + argv
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out_f, stderr=err_f)
        # wait4 gives this child's own rusage: the fallback when GNU time is not installed.
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    rss = None
    if use_time:
        for line in err.decode(errors="replace").splitlines():
            if "Maximum resident set size" in line:
                rss = int(line.rsplit(":", 1)[1])
    elif measure_rss:
        rss = usage.ru_maxrss
    if code != 0:
        log("command failed (%d): %s\n%s" % (code, " ".join(argv), err.decode(errors="replace")[-2000:]))
    return elapsed, code, out.decode(errors="replace"), rss


def env_for(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UCLOUD_")}
    env.update(UCLOUD_PUBLIC_KEY=PUBLIC, UCLOUD_PRIVATE_KEY=PRIVATE, UCLOUD_BASE_URL=url)
    return env


def page_key(params):
    """A page's identity: everything sent but Limit (and the signature fields, already dropped)."""
    return tuple(sorted((k, v) for k, v in params.items() if k != "Limit"))


def listing_of(params):
    return tuple(sorted((k, v) for k, v in params.items() if k not in ("Limit", "Offset")))


def lock_pins(path):
    """entry -> region -> image_id from an imagelock.lock, without a YAML library."""
    pins, entry, region = {}, None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            indent = len(line) - len(line.lstrip(" "))
            text = line.strip()
            if indent == 2 and text.endswith(":"):
                entry = text[:-1]
            elif indent == 6 and text.endswith(":"):
                region = text[:-1]
            elif indent == 8 and text.startswith("image_id:"):
                pins.setdefault(entry, {})[region] = text.split(":", 1)[1].strip()
    return pins


def generate_catalog(sim_bin, work, regions, per_region, seed):
    path = os.path.join(work, "catalog-%dx%d.json" % (regions, per_region))
    subprocess.run([sim_bin, "generate", "--regions", str(regions), "--per-region", str(per_region),
                    "--seed", str(seed), "--out", path], check=True)
    return path


def write_spec(catalog_path, entries_count, spec_path):
    with open(catalog_path, encoding="utf-8") as f:
        catalog = json.load(f)
    entries = specgen.generate(catalog, entries_count, datetime.datetime.now(datetime.timezone.utc).date())
    with open(spec_path, "w", encoding="utf-8") as f:
        f.write(specgen.to_yaml(entries))
    json_path = spec_path + ".json"
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(entries, f, ensure_ascii=False)
    return entries, json_path


def lock_runs(imagelock, sim, spec, work, runs, measure_rss=False, extra=(), tag="run"):
    results = []
    for n in range(runs):
        lock = os.path.join(work, "%s-%d.lock" % (tag, n))
        if os.path.exists(lock):
            os.remove(lock)
        sim.reset()
        secs, code, _, rss = run_timed([imagelock, "-q"] + list(extra) + ["-f", spec, "--lock", lock, "lock"],
                                       env_for(sim.url), measure_rss)
        if code != 0:
            raise SystemExit("imagelock lock failed")
        stats, log_ = sim.stats(), sim.requests()
        pages = [page_key(r["params"]) for r in log_]
        results.append({"secs": secs, "requests": stats["total"], "max_in_flight": stats["max_in_flight"],
                        "rate_limited": stats.get("by_retcode", {}).get("153", 0),
                        "repeated_pages": len(pages) - len(set(pages)),
                        "listings": len({listing_of(r["params"]) for r in log_}), "rss": rss, "lock": lock})
        log("  lock run %d: %.3fs, %d requests, max in flight %d" % (n + 1, secs, stats["total"], stats["max_in_flight"]))
    return results


def plan_costs(catalog_path, entries, cap):
    """Requests of imagelock's plan (one listing per region, zone and project, pushing down what all
    its entries share) and of the alternative (one listing per distinct push-down), from the catalog."""
    with open(catalog_path, encoding="utf-8") as f:
        catalog = json.load(f)
    keys = (("os_type", "OsType"), ("image_type", "ImageType"), ("func_type", "FuncType"))
    groups = {}
    for e in entries:
        for r in e["regions"]:
            groups.setdefault((r, e.get("zone"), e.get("project_id")), []).append(e)

    def pages(group, push):
        seen = specgen.visible(catalog, *group)
        n = sum(1 for i in seen if all(i.get(field) == push[k] for k, field in keys if push.get(k)))
        return max(1, -(-n // cap))

    shared = narrow = 0
    for group, members in groups.items():
        common = {k: members[0]["filters"].get(k) for k, _ in keys}
        common = {k: v for k, v in common.items() if all(m["filters"].get(k) == v for m in members)}
        shared += pages(group, common)
        distinct = {tuple(m["filters"].get(k) for k, _ in keys) for m in members}
        narrow += sum(pages(group, dict(zip([k for k, _ in keys], t))) for t in distinct)
    return shared, narrow


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--imagelock", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--python", default=sys.executable, help="Python with ucloud-sdk-python3 for the baseline")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--naive-runs", type=int, default=3)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--page-cap", type=int, default=100)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--limit", type=int, default=2, help="workload D: requests in flight the API accepts")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="imagelock-bench-")
    report = []
    out = report.append
    try:
        # ---- A: 4 x 300, imagelock vs naive ------------------------------------------------------
        log("workload A: 4 regions x 300 images")
        cat_a = generate_catalog(args.sim, work, 4, 300, 1)
        spec_a = os.path.join(work, "a.yaml")
        entries_a, json_a = write_spec(cat_a, 40, spec_a)
        pins_a = sum(len(e["regions"]) for e in entries_a)
        sim = Sim(args.sim, cat_a, args.latency_ms, args.page_cap)
        try:
            runs = lock_runs(args.imagelock, sim, spec_a, work, args.runs)
            # The lock is fresh now: a second run must not call the API at all.
            sim.reset()
            noop_secs, _, _, _ = run_timed([args.imagelock, "-q", "-f", spec_a, "--lock", runs[-1]["lock"], "lock"],
                                           env_for(sim.url))
            noop_requests = sim.stats()["total"]
            naive = []
            for n in range(args.naive_runs):
                sim.reset()
                secs, code, stdout, _ = run_timed(
                    [args.python, os.path.join(HERE, "naive_baseline.py"), "--url", sim.url, "--entries", json_a])
                if code != 0:
                    raise SystemExit("naive baseline failed")
                stats, log_ = sim.stats(), sim.requests()
                pages = [page_key(r["params"]) for r in log_]
                naive.append({"secs": secs, "requests": stats["total"],
                              "repeated_pages": len(pages) - len(set(pages)), "picks": json.loads(stdout)})
                log("  naive run %d: %.3fs, %d requests" % (n + 1, secs, stats["total"]))
        finally:
            sim.stop()
        locked = lock_pins(runs[-1]["lock"])
        naive_picks = naive[-1]["picks"]
        agree = sum(1 for e, regs in naive_picks.items() for r, i in regs.items() if locked.get(e, {}).get(r) == i)
        t_lock, t_naive = median([r["secs"] for r in runs]), median([r["secs"] for r in naive])

        out("### A. 4 regions × 300 images, %d entries (%d pins), latency %d ms, page cap %d"
            % (len(entries_a), pins_a, args.latency_ms, args.page_cap))
        out("")
        out("| | median wall time | runs | API requests | distinct listings | pages fetched twice | max in flight |")
        out("|---|---|---|---|---|---|---|")
        out("| `imagelock lock` (fresh lockfile) | **%.3f s** | %s | %s | %s | %s | %s |" % (
            t_lock, len(runs), "/".join(sorted({str(r["requests"]) for r in runs})),
            runs[-1]["listings"], max(r["repeated_pages"] for r in runs), max(r["max_in_flight"] for r in runs)))
        out("| `imagelock lock` again (lock up to date) | %.3f s | 1 | %d | 0 | 0 | 0 |" % (noop_secs, noop_requests))
        out("| naive: Python SDK 0.11.150, entry by entry, Limit=100 | **%.3f s** | %d | %s | | %s | 1 |" % (
            t_naive, len(naive), "/".join(sorted({str(r["requests"]) for r in naive})),
            max(r["repeated_pages"] for r in naive)))
        out("")
        out("- **Speed-up: %.1f×** (naive median / imagelock median); requests: %d vs %d (%.1f× fewer)."
            % (t_naive / t_lock, naive[-1]["requests"], runs[-1]["requests"],
               naive[-1]["requests"] / max(runs[-1]["requests"], 1)))
        shared, narrow = plan_costs(cat_a, entries_a, args.page_cap)
        out("- Planner: sharing one listing per region, zone and project costs %d requests (computed from"
            " the catalog); one listing per distinct push-down would cost %d." % (shared, narrow))
        out("- imagelock runs: %s s." % ", ".join("%.3f" % r["secs"] for r in runs))
        out("- naive runs: %s s." % ", ".join("%.3f" % r["secs"] for r in naive))
        out("- Same picks: %d of %d pins agree between imagelock's lockfile and the baseline." % (agree, pins_a))
        out("")

        # ---- D: A against a rate-limited API ------------------------------------------------------
        log("workload D: workload A, the API refusing (RetCode 153) above %d in flight" % args.limit)
        sim = Sim(args.sim, cat_a, args.latency_ms, args.page_cap, ["--max-in-flight", str(args.limit)])
        try:
            adaptive = lock_runs(args.imagelock, sim, spec_a, work, args.runs, tag="adaptive")
            knowing = lock_runs(args.imagelock, sim, spec_a, work, args.runs,
                                extra=["--concurrency", str(args.limit)], tag="knowing")
            sim.reset()
            secs, code, stdout, _ = run_timed(
                [args.python, os.path.join(HERE, "naive_baseline.py"), "--url", sim.url, "--entries", json_a])
            if code != 0:
                raise SystemExit("naive baseline failed against the rate-limited API")
            naive_d = {"secs": secs, "requests": sim.stats()["total"], "picks": json.loads(stdout)}
        finally:
            sim.stop()
        t_adaptive = median([r["secs"] for r in adaptive])
        t_knowing = median([r["secs"] for r in knowing])
        same = all(lock_pins(r["lock"]) == locked for r in adaptive + knowing)
        naive_same = sum(1 for e, regs in naive_d["picks"].items() for r, i in regs.items()
                         if locked.get(e, {}).get(r) == i)
        out("### D. Workload A against a rate-limited API: RetCode 153 above %d requests in flight" % args.limit)
        out("")
        out("| | median wall time | runs | API requests | answered 153 | max in flight (incl. refused) |")
        out("|---|---|---|---|---|---|")
        out("| `imagelock lock` as shipped (adaptive, starts at 16) | **%.3f s** | %d | %s | %s | %d |" % (
            t_adaptive, len(adaptive), "/".join(sorted({str(r["requests"]) for r in adaptive})),
            "/".join(sorted({str(r["rate_limited"]) for r in adaptive})), max(r["max_in_flight"] for r in adaptive)))
        out("| `imagelock --concurrency %d lock` (knows the limit) | **%.3f s** | %d | %s | %s | %d |" % (
            args.limit, t_knowing, len(knowing), "/".join(sorted({str(r["requests"]) for r in knowing})),
            "/".join(sorted({str(r["rate_limited"]) for r in knowing})), max(r["max_in_flight"] for r in knowing)))
        out("| `imagelock lock`, API not rate-limited (A) | %.3f s | %d | %s | 0 | %d |" % (
            t_lock, len(runs), "/".join(sorted({str(r["requests"]) for r in runs})), max(r["max_in_flight"] for r in runs)))
        out("| naive: Python SDK, one request at a time | %.3f s | 1 | %d | 0 | 1 |" % (naive_d["secs"], naive_d["requests"]))
        out("")
        out("- **Adaptive / knows-the-limit: %.2f×** (target ≤ 1.5×)." % (t_adaptive / t_knowing))
        out("- Same pins: %s (every adaptive and knows-the-limit lockfile equals A's); the naive baseline"
            " agrees on %d of %d." % ("yes" if same else "**NO**", naive_same, pins_a))
        out("- adaptive runs: %s s." % ", ".join("%.3f" % r["secs"] for r in adaptive))
        out("- knows-the-limit runs: %s s." % ", ".join("%.3f" % r["secs"] for r in knowing))
        out("")

        # ---- B: 20 x 2,000 scale case ------------------------------------------------------------
        if not args.skip_scale:
            log("workload B: 20 regions x 2,000 images")
            cat_b = generate_catalog(args.sim, work, 20, 2000, 2)
            spec_b = os.path.join(work, "b.yaml")
            entries_b, _ = write_spec(cat_b, 200, spec_b)
            pins_b = sum(len(e["regions"]) for e in entries_b)
            sim = Sim(args.sim, cat_b, args.latency_ms, args.page_cap)
            try:
                runs_b = lock_runs(args.imagelock, sim, spec_b, work, max(3, args.runs // 2), measure_rss=True)
            finally:
                sim.stop()
            rss = [r["rss"] for r in runs_b if r["rss"] is not None]
            out("### B. Scale: 20 regions × 2,000 images, %d entries (%d pins), latency %d ms, page cap %d"
                % (len(entries_b), pins_b, args.latency_ms, args.page_cap))
            out("")
            out("| median wall time | API requests | distinct listings | pages fetched twice | max in flight | peak RSS |")
            out("|---|---|---|---|---|---|")
            out("| **%.3f s** | %d | %d | %d | %d | **%s** |" % (
                median([r["secs"] for r in runs_b]), runs_b[-1]["requests"], runs_b[-1]["listings"],
                max(r["repeated_pages"] for r in runs_b), max(r["max_in_flight"] for r in runs_b),
                ("%.1f MB" % (max(rss) / 1024)) if rss else "n/a (no /usr/bin/time)"))
            out("")
            shared, narrow = plan_costs(cat_b, entries_b, args.page_cap)
            out("- Planner: shared listings cost %d requests; one listing per distinct push-down would"
                " cost %d." % (shared, narrow))
            out("- runs: %s s%s." % (", ".join("%.3f" % r["secs"] for r in runs_b),
                                      "" if os.access(TIME, os.X_OK) else " (peak RSS from wait4: an upper bound, it counts pages shared with the forking Python)"))
            out("")

            # ---- C: check on 5,000 entries -------------------------------------------------------
            log("workload C: check on a 5,000-entry spec")
            spec_c = os.path.join(work, "c.yaml")
            entries_c, _ = write_spec(cat_b, 5000, spec_c)
            lock_c = os.path.join(work, "c.lock")
            fast = Sim(args.sim, cat_b, 0, args.page_cap)
            try:
                secs, code, _, _ = run_timed([args.imagelock, "-q", "-f", spec_c, "--lock", lock_c, "lock"],
                                             env_for(fast.url))
                if code != 0:
                    raise SystemExit("locking the 5,000-entry spec failed")
                lock_c_secs = secs
            finally:
                fast.stop()
            # No credentials and an endpoint nothing listens on: check and get must not need them.
            bare = {k: v for k, v in os.environ.items() if not k.startswith("UCLOUD_")}
            bare["UCLOUD_BASE_URL"] = "http://127.0.0.1:9"
            checks = []
            for _ in range(max(10, args.runs)):
                secs, code, _, _ = run_timed([args.imagelock, "-q", "-f", spec_c, "--lock", lock_c, "check"], bare)
                if code != 0:
                    raise SystemExit("check failed")
                checks.append(secs)
            # The spec alone (what `check` costs before it reads the lockfile).
            validates = []
            for _ in range(max(10, args.runs)):
                secs, code, _, _ = run_timed([args.imagelock, "-q", "-f", spec_c, "validate"], bare)
                if code != 0:
                    raise SystemExit("validate failed")
                validates.append(secs)
            first = entries_c[0]
            gets = []
            for _ in range(max(10, args.runs)):
                secs, code, _, _ = run_timed([args.imagelock, "-q", "-f", spec_c, "--lock", lock_c, "get",
                                              first["name"], "--region", first["regions"][0]], bare)
                if code != 0:
                    raise SystemExit("get failed")
                gets.append(secs)
            out("### C. `check` and `get` on %d entries (%d pins; spec %d KB, lockfile %d KB), no network"
                % (len(entries_c), sum(len(e["regions"]) for e in entries_c),
                   os.path.getsize(spec_c) // 1024, os.path.getsize(lock_c) // 1024))
            out("")
            out("| command | median wall time | runs |")
            out("|---|---|---|")
            out("| `imagelock check` | **%.1f ms** | %d |" % (median(checks) * 1000, len(checks)))
            out("| `imagelock get NAME --region R` | %.1f ms | %d |" % (median(gets) * 1000, len(gets)))
            out("| `imagelock validate` (spec only, no lockfile) | %.1f ms | %d |" % (median(validates) * 1000, len(validates)))
            out("| (`imagelock lock` of that spec, latency 0, made the lockfile) | %.2f s | 1 |" % lock_c_secs)
            out("")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("Measured %s UTC on %s (%s, %d CPUs), %s." % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), platform.node() or "?",
        platform.platform(), os.cpu_count() or 0, cpu_model()))
    print("")
    print("\n".join(report))


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
