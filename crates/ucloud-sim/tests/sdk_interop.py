"""Interoperability test: UCloud's official Python SDK (ucloud-sdk-python3) against ucloud-sim.

Proves the simulator accepts exactly what the real SDK sends (form encoding, list flattening,
signature) and answers in a shape the SDK parses, including the answers that imagelock must ride
out: rate limits (RetCode 153, --max-in-flight), outages (RetCode 150), codes sent as strings,
and the request id header. Run with a Python that has
ucloud-sdk-python3==0.11.150 installed (see run-sdk-interop.sh):

    python crates/ucloud-sim/tests/sdk_interop.py --sim target/debug/ucloud-sim
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import unittest

from ucloud.client import Client
from ucloud.core import exc

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG = os.path.normpath(os.path.join(HERE, "..", "..", "..", "examples", "catalog.json"))
PUBLIC = "sdk-interop-public"
PRIVATE = "sdk-interop-private"
SIM = None  # set from --sim

QUIET = logging.getLogger("ucloud-sim-interop")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


def start_sim(*extra):
    proc = subprocess.Popen(
        [SIM, "serve", "--catalog", CATALOG, "--key", PUBLIC + ":" + PRIVATE] + list(extra),
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    prefix = "listening on "
    if not line.startswith(prefix):
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise RuntimeError("unexpected first line from ucloud-sim: %r" % line)
    return proc, line[len(prefix):]


def stop_sim(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    if proc.returncode != 0:
        raise AssertionError("ucloud-sim did not exit cleanly on SIGTERM: %r" % proc.returncode)


def client(url, region, public=PUBLIC, private=PRIVATE, project_id=None):
    cfg = {
        "region": region,
        "public_key": public,
        "private_key": private,
        "base_url": url,
        "max_retries": 0,
        "timeout": 10,
    }
    if project_id:
        cfg["project_id"] = project_id
    return Client(cfg, logger=QUIET).uhost()


def expected(catalog, region, zone=None, project_id=None, **eq):
    """The catalog's own answer, computed independently of the simulator."""
    out = []
    for img in catalog.get(region, []):
        if zone and img.get("Zone") and img["Zone"] != zone:
            continue
        # An omitted ProjectId is the account's default project (ucloud-sim's --default-project).
        if img.get("ProjectId") and img["ProjectId"] != (project_id or "org-default"):
            continue
        if any(img.get(k, "") != v for k, v in eq.items() if k != "ImageIds"):
            continue
        if eq.get("ImageIds") and img["ImageId"] not in eq["ImageIds"]:
            continue
        out.append(img["ImageId"])
    return out


def list_all(uhost, limit, **filters):
    """Pages through DescribeImage the way imagelock does: advance by items received."""
    got, pages = [], 0
    while True:
        resp = uhost.describe_image(dict(filters, Offset=len(got), Limit=limit))
        pages += 1
        page = [i["ImageId"] for i in resp["ImageSet"]]
        if not page:
            break
        got.extend(page)
        if len(got) >= resp["TotalCount"]:
            break
        if pages > 1000:
            raise AssertionError("paging does not terminate")
    return resp["TotalCount"], got, pages


class SdkInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(CATALOG, encoding="utf-8") as f:
            cls.catalog = json.load(f)

    def test_paged_and_filtered_listings_match_catalog(self):
        cases = [
            ("cn-bj2", {}, {}),
            ("hk", {}, {}),
            ("cn-sh2", {}, {}),
            ("cn-bj2", {"ImageType": "Base"}, {}),
            ("hk", {"OsType": "Windows"}, {}),
            ("cn-bj2", {"FuncType": "gpu"}, {}),
            ("hk", {"ImageType": "Business", "OsType": "Linux"}, {}),
            ("cn-bj2", {"Zone": "cn-bj2-04"}, {"zone": "cn-bj2-04"}),
            ("cn-bj2", {"Zone": "cn-bj2-03"}, {"zone": "cn-bj2-03"}),
        ]
        for cap in (1, 4, 100):
            proc, url = start_sim("--page-cap", str(cap))
            try:
                for region, filters, special in cases:
                    uhost = client(url, region)
                    eq = {k: v for k, v in filters.items() if k != "Zone"}
                    want = expected(self.catalog, region, **special, **eq)
                    self.assertTrue(want, (region, filters))
                    for limit in (1, 3, 20, 50):
                        with self.subTest(cap=cap, region=region, filters=filters, limit=limit):
                            total, got, pages = list_all(uhost, limit, **filters)
                            self.assertEqual(total, len(want))
                            self.assertEqual(got, want)
                            per_page = min(cap, limit)
                            self.assertEqual(pages, -(-len(want) // per_page))
            finally:
                stop_sim(proc)

    def test_project_ids_and_prices(self):
        proc, url = start_sim("--page-cap", "7")
        try:
            scoped = client(url, "cn-bj2", project_id="org-demo")
            _, got, _ = list_all(scoped, 5)
            self.assertEqual(got, expected(self.catalog, "cn-bj2", project_id="org-demo"))
            _, custom, _ = list_all(scoped, 5, ImageType="Custom")
            self.assertEqual(len(custom), 1)
            _, none, _ = list_all(client(url, "cn-bj2"), 5, ImageType="Custom")
            self.assertEqual(none, [])

            ids = expected(self.catalog, "hk")[2:9:3]
            resp = client(url, "hk").describe_image({"ImageIds": ids, "Limit": 50})
            self.assertEqual([i["ImageId"] for i in resp["ImageSet"]], ids)
            resp = client(url, "hk").describe_image({"ImageId": ids[1]})
            self.assertEqual([i["ImageId"] for i in resp["ImageSet"]], [ids[1]])

            priced = [i["ImageId"] for i in self.catalog["hk"] if "PriceSet" in i]
            self.assertTrue(priced)
            resp = client(url, "hk").describe_image({"ImageIds": priced, "PriceSet": 1})
            self.assertEqual(resp["ImageSet"][0]["PriceSet"][0]["ChargeType"], "Month")
            # Fields pass through in the API's names.
            img = client(url, "hk").describe_image({"FuncType": "gpu", "Limit": 1})["ImageSet"][0]
            self.assertEqual(img["ImageType"], "Business")
            self.assertTrue(img["SupportedGPUTypes"])
        finally:
            stop_sim(proc)

    def test_bad_keys_raise_retcode_exceptions(self):
        proc, url = start_sim()
        try:
            with self.assertRaises(exc.RetCodeException) as ctx:
                client(url, "cn-bj2", private="not-the-key").describe_image({"Limit": 5})
            e = ctx.exception
            self.assertEqual(e.code, 171)
            self.assertEqual(e.message, "Signature VerifyAC Error")
            self.assertEqual(e.action, "DescribeImage")
            self.assertFalse(e.retryable)

            with self.assertRaises(exc.RetCodeException) as ctx:
                client(url, "cn-bj2", public="nobody").describe_image({"Limit": 5})
            self.assertEqual(ctx.exception.code, 172)
            self.assertEqual(ctx.exception.message, "User Not Exists")

            # The demo key is not accepted once explicit keys are given.
            with self.assertRaises(exc.RetCodeException) as ctx:
                client(url, "cn-bj2", public="ucloud-sim-demo-public-key",
                       private="ucloud-sim-demo-private-key").describe_image({})
            self.assertEqual(ctx.exception.code, 172)
        finally:
            stop_sim(proc)

    def test_retcode_2000_fault_reaches_the_sdk_as_retcode_exception(self):
        proc, url = start_sim("--fault-rate", "1", "--faults", "retcode_2000")
        try:
            with self.assertRaises(exc.RetCodeException) as ctx:
                client(url, "cn-bj2").describe_image({})
            self.assertEqual(ctx.exception.code, 2000)
            self.assertEqual(ctx.exception.message, "Internal Error")
            # Note: this SDK only retries RetCode > 2000; imagelock retries >= 2000 (docs/real-api.md).
        finally:
            stop_sim(proc)


class SdkInteropRealApiBehaviour(unittest.TestCase):
    """The simulator's answers that follow UCloud's docs where it used to depart from them."""

    @classmethod
    def setUpClass(cls):
        with open(CATALOG, encoding="utf-8") as f:
            cls.catalog = json.load(f)

    def test_rate_limit_and_outage_codes_reach_the_sdk(self):
        for fault, code, message in (("retcode_153", 153, "API 请求被限流"),
                                     ("retcode_150", 150, "Service Unavailable")):
            proc, url = start_sim("--fault-rate", "1", "--faults", fault)
            try:
                with self.assertRaises(exc.RetCodeException) as ctx:
                    client(url, "cn-bj2").describe_image({})
                e = ctx.exception
                self.assertEqual((e.code, e.message), (code, message))
                # The SDK keeps the request id header, as imagelock does.
                self.assertEqual(e.request_uuid, "sim-000000000000")
                # This SDK retries only codes above 2000: it would fail on a rate limit that
                # imagelock waits out.
                self.assertFalse(e.retryable)
            finally:
                stop_sim(proc)

    def test_more_than_max_in_flight_is_refused_with_153(self):
        proc, url = start_sim("--max-in-flight", "1", "--latency-ms", "400")
        try:
            outcomes = []

            def call():
                try:
                    client(url, "hk").describe_image({"Limit": 1})
                    outcomes.append(0)
                except exc.RetCodeException as e:
                    outcomes.append(e.code)

            threads = [threading.Thread(target=call) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(outcomes), [0, 153, 153])
        finally:
            stop_sim(proc)

    def test_string_codes_are_read_by_the_sdk(self):
        proc, url = start_sim("--string-codes")
        try:
            # The SDK reads "RetCode": "0" as success (int(...) in ucloud/core/client/_client.py)
            # and its response schema turns "TotalCount": "22" into a number.
            resp = client(url, "hk").describe_image({"Limit": 2})
            self.assertEqual(resp["TotalCount"], len(expected(self.catalog, "hk")))
            self.assertEqual(len(resp["ImageSet"]), 2)
        finally:
            stop_sim(proc)

    def test_answers_follow_the_documented_image_shape(self):
        proc, url = start_sim()
        try:
            scoped = client(url, "cn-bj2", project_id="org-demo")
            _, ids, _ = list_all(scoped, 50)
            images = scoped.describe_image({"ImageIds": ids[:50], "Limit": 50})["ImageSet"]
            self.assertTrue(images)
            for img in images:
                # No ProjectId field in UHostImageSet; FuncType only on marketplace images.
                self.assertNotIn("ProjectId", img)
                self.assertEqual("FuncType" in img, img["ImageType"] == "Business", img["ImageId"])
                cpu = img.get("MinimalCPU", "")
                self.assertTrue(cpu == "" or cpu.isalpha(), cpu)
        finally:
            stop_sim(proc)


def main():
    global SIM
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sim", required=True, help="path to the ucloud-sim binary")
    args, rest = parser.parse_known_args()
    SIM = os.path.abspath(args.sim)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
