"""Benchmark specs for imagelock, and a small local re-implementation of its filters.

Shared by bench.py (which writes the specs) and naive_baseline.py (which resolves them the way a
one-entry-at-a-time tool would). The filter here is a simplified reading of docs/spec.md, enough for
the filters the generated specs use; bench.py compares its picks with imagelock's lockfile, so a
divergence shows up in the report instead of going unnoticed.

    python bench/specgen.py --catalog cat.json --entries 40 --out imagelock.yaml
"""

import argparse
import datetime
import json
import re

# (name, extra entry keys, filters, select). Region(s) are assigned by generate().
TEMPLATES = [
    ("ubuntu-2204", {}, {"image_type": "Base", "name": r"^Ubuntu 22\.04",
                         "features": {"all": ["IPv6", "CloudInit"], "none": ["Aarch64_Type"]}}, "newest"),
    ("ubuntu-2404", {}, {"image_type": "Base", "os_name": r"^Ubuntu 24", "features": ["CloudInit"]}, "newest"),
    ("ubuntu-2004", {}, {"image_type": "Base", "version": ">=20.04, <21"}, "newest"),
    ("rocky-9", {}, {"image_type": "Base", "os_name": "^Rocky Linux", "version": "9"}, "highest_version"),
    ("rocky-8", {}, {"image_type": "Base", "os_name": "^Rocky Linux", "version": "~8"}, "highest_version"),
    ("debian", {}, {"image_type": "Base", "os_name": "^Debian", "version": ">=11", "not_eol": True},
     "highest_version"),
    ("centos-7", {}, {"image_type": "Base", "name": "^CentOS 7"}, "newest"),
    ("alma", {}, {"image_type": "Base", "os_name": "AlmaLinux"}, "newest"),
    ("opencloudos", {}, {"os_name": "OpenCloudOS", "created_after": "2023-06-01"}, "oldest"),
    ("arm", {}, {"image_type": "Base", "features": {"all": ["Aarch64_Type"]}}, "newest"),
    ("win-2022", {}, {"os_type": "Windows", "version": "=2022"}, "newest"),
    ("win-2019", {}, {"os_type": "Windows", "image_type": "Base", "name": "Windows Server 2019"}, "newest"),
    ("gpu-a100", {}, {"func_type": "gpu", "supported_gpu_types": {"any": ["A100", "H100"]},
                      "version": ">=22.04, <24"}, "highest_version"),
    ("gpu-t4", {}, {"func_type": "gpu", "supported_gpu_types": ["T4"]}, "newest"),
    ("gpu-ai", {}, {"image_type": "Business", "scene_categories": {"any": ["AIModels", "AIPainting"]},
                    "vendor": "UCloud|NVIDIA"}, "newest"),
    ("app-docker", {}, {"image_type": "Business", "func_type": "uhost", "name": "^Docker"}, "newest"),
    ("making-ok", {}, {"image_type": "Base", "state": ["Available", "Making"], "name": "^Ubuntu"}, "newest"),
    ("golden", {"project_id": "org-team-a"}, {"image_type": "Custom", "name": "^custom-golden"}, "newest"),
    ("zoned", {"zone": "-01"}, {"image_type": "Base", "name": "^Ubuntu"}, "newest"),
    ("ipv6-any", {}, {"features": {"all": ["IPv6"], "any": ["HotPlug", "RssdAttachable"]}}, "newest"),
]

DEFAULTS = {"filters": {"os_type": "Linux"}}

VERSION_RE = re.compile(r"\d+(\.\d+){0,2}")


def image_version(img):
    for text in (img.get("OsName") or "", img.get("ImageName") or ""):
        m = VERSION_RE.search(text)
        if m:
            parts = [int(p) for p in m.group(0).split(".")]
            return tuple(parts + [0] * (3 - len(parts)))
    return None


def _comparator(text):
    """One Cargo-style comparator as a predicate over (major, minor, patch)."""
    m = re.fullmatch(r"\s*(>=|<=|>|<|=|\^|~)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*", text)
    if not m:
        raise ValueError("unsupported version requirement: %r" % text)
    op = m.group(1) or "^"
    nums = [int(g) for g in m.groups()[1:] if g is not None]
    n = len(nums)
    lo = tuple(nums + [0] * (3 - n))

    def bump(i):
        v = list(lo[: i + 1])
        v[i] += 1
        return tuple(v + [0] * (2 - i))

    if op == ">=":
        return lambda v: v >= lo
    if op == "<":
        return lambda v: v < lo
    if op == ">":
        return lambda v: v >= bump(n - 1)
    if op == "<=":
        return lambda v: v < bump(n - 1)
    if op == "=":
        return lambda v: lo <= v < bump(n - 1)
    if op == "~":
        hi = bump(0) if n == 1 else bump(1)
        return lambda v: lo <= v < hi
    # caret
    first_nonzero = next((i for i, x in enumerate(nums) if x != 0), n - 1)
    hi = bump(min(first_nonzero, n - 1))
    return lambda v: lo <= v < hi


def version_matches(req, version):
    return version is not None and all(_comparator(c)(version) for c in req.split(","))


def _set_match(spec, values):
    if isinstance(spec, list):
        spec = {"all": spec}
    values = set(values or [])
    return (all(v in values for v in spec.get("all", []))
            and (not spec.get("any") or any(v in values for v in spec["any"]))
            and not any(v in values for v in spec.get("none", [])))


def matches(filters, img, today):
    exact = {"os_type": "OsType", "image_type": "ImageType", "func_type": "FuncType", "image_id": "ImageId"}
    for key, field in exact.items():
        if key in filters and img.get(field) != filters[key]:
            return False
    state = filters.get("state", ["Available"])
    if img.get("State") not in (state if isinstance(state, list) else [state]):
        return False
    for key, field in (("name", "ImageName"), ("os_name", "OsName"), ("vendor", "Vendor")):
        if key in filters and not re.search(filters[key], img.get(field) or ""):
            return False
    for key, field in (("features", "Features"), ("scene_categories", "SceneCategories"),
                       ("supported_gpu_types", "SupportedGPUTypes")):
        if key in filters and not _set_match(filters[key], img.get(field)):
            return False
    if "version" in filters and not version_matches(filters["version"], image_version(img)):
        return False
    if "created_after" in filters:
        after = datetime.datetime.fromisoformat(filters["created_after"]).replace(tzinfo=datetime.timezone.utc)
        if img.get("CreateTime", 0) < after.timestamp():
            return False
    if filters.get("not_eol") and img.get("MaintainEol"):
        eol = datetime.datetime.strptime(img["MaintainEol"], "%Y/%m/%d").date()
        if eol <= today:
            return False
    return True


def pick(entry, images, today):
    """The image imagelock's `select` rule would choose, or None."""
    cands = [i for i in images if matches(entry["filters"], i, today)]
    if entry["select"] == "highest_version":
        cands = [i for i in cands if image_version(i) is not None]
        key = lambda i: (image_version(i), i["CreateTime"], _neg(i["ImageId"]))
        return max(cands, key=key, default=None)
    if entry["select"] == "oldest":
        return min(cands, key=lambda i: (i["CreateTime"], i["ImageId"]), default=None)
    return max(cands, key=lambda i: (i["CreateTime"], _neg(i["ImageId"])), default=None)


def _neg(text):
    # Ties go to the smallest ImageId: invert byte order for max().
    return tuple(-b for b in text.encode())


def visible(catalog, region, zone=None, project_id=None):
    """What a DescribeImage listing of the region sees (zone and project scoping as the sim does)."""
    out = []
    for img in catalog.get(region, []):
        if zone and img.get("Zone") and img["Zone"] != zone:
            continue
        if img.get("ProjectId") and img["ProjectId"] != (project_id or "org-default"):
            continue
        out.append(img)
    return out


def generate(catalog, count, today):
    """`count` entries over the catalog's regions, each resolvable in every region it names."""
    regions = sorted(catalog)
    resolvable = {}  # (template, region) -> bool; a 5,000-entry spec reuses 20 templates
    entries = []
    i = 0
    attempts = 0
    while len(entries) < count and attempts < count * 20:
        attempts += 1
        name, extra, filters, select = TEMPLATES[i % len(TEMPLATES)]
        width = 1 + (i % 3)  # one, two or three regions
        start = (i * 7) % len(regions)
        chosen = sorted({regions[(start + k) % len(regions)] for k in range(width)})
        i += 1
        entry = {"name": "%s-%03d" % (name, len(entries)), "select": select,
                 "filters": dict(DEFAULTS["filters"], **filters)}
        if "project_id" in extra:
            entry["project_id"] = extra["project_id"]
        if "zone" in extra:
            chosen = chosen[:1]
            entry["zone"] = chosen[0] + extra["zone"]
        template = i - 1
        for r in chosen:
            key = (template % len(TEMPLATES), r)
            if key not in resolvable:
                seen = visible(catalog, r, entry.get("zone"), entry.get("project_id"))
                resolvable[key] = pick(entry, seen, today) is not None
        chosen = [r for r in chosen if resolvable[(template % len(TEMPLATES), r)]]
        if not chosen:
            continue
        entry["regions"] = chosen
        entries.append(entry)
    return entries


def _yaml_value(value):
    # JSON scalars and flow collections are valid YAML.
    return json.dumps(value, ensure_ascii=False)


def to_yaml(entries):
    lines = ["# Generated by bench/specgen.py.", "version: 1", "defaults:", "  filters:",
             "    os_type: Linux", "images:"]
    for e in entries:
        lines.append("  %s:" % e["name"])
        if len(e["regions"]) == 1:
            lines.append("    region: %s" % e["regions"][0])
        else:
            lines.append("    regions: %s" % _yaml_value(e["regions"]))
        for key in ("zone", "project_id"):
            if key in e:
                lines.append("    %s: %s" % (key, e[key]))
        lines.append("    filters:")
        for key, value in e["filters"].items():
            if key == "os_type" and value == "Linux":
                continue  # from defaults
            lines.append("      %s: %s" % (key, _yaml_value(value)))
        lines.append("    select: %s" % e["select"])
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--entries", type=int, default=40)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json-out", help="also write the entries as JSON (for naive_baseline.py)")
    args = ap.parse_args()
    with open(args.catalog, encoding="utf-8") as f:
        catalog = json.load(f)
    entries = generate(catalog, args.entries, datetime.datetime.now(datetime.timezone.utc).date())
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(to_yaml(entries))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(entries, f, ensure_ascii=False)
    print("%d entries, %d pins" % (len(entries), sum(len(e["regions"]) for e in entries)))


if __name__ == "__main__":
    main()
