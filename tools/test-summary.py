#!/usr/bin/env python3
"""Sums meson's test logs from several build trees into one line.

Each TAP subtest and each non-TAP test counts once. A test that failed
as a whole without a failing subtest (a crash, a timeout, a short plan)
counts as one failure, so nothing that went wrong is lost.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET


# Control characters a test printed (a fuzz target echoing its input)
# reach meson's XML as they are, where XML 1.0 allows none of them.
NOT_XML = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def junit_root(path):
    with open(path, "rb") as fh:
        return ET.fromstring(NOT_XML.sub(b"?", fh.read()))


def count(build):
    passed = failed = skipped = 0
    logs = build + "/meson-logs/"
    suites = {}
    for suite in junit_root(logs + "testlog.junit.xml"):
        p = f = s = 0
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                f += 1
            elif case.find("skipped") is not None:
                s += 1
            else:
                p += 1
        suites[suite.get("name")] = (p, f, s)
    with open(logs + "testlog.json") as fh:
        for line in fh:
            t = json.loads(line)
            name = t["name"]
            key = next((k for k in suites if k.endswith("." + name) or k == name), None)
            p, f, s = suites.pop(key, (0, 0, 0)) if key else (0, 0, 0)
            result = t["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                p = max(p, 1) if f == 0 and p + s == 0 else p
            elif result == "SKIP":
                s = max(s, 1) if p + f + s == 0 else s
            elif f == 0:
                f = 1
            passed, failed, skipped = passed + p, failed + f, skipped + s
    return passed, failed, skipped


def main():
    args = sys.argv[1:]
    totals = [0, 0, 0]
    if args[:1] == ["--failed-builds"]:
        totals[1] = int(args[1])
        args = args[2:]
    for build in args:
        for i, n in enumerate(count(build)):
            totals[i] += n
    line = f"{totals[0]} passed, {totals[1]} failed"
    if totals[2]:
        line += f", {totals[2]} skipped"
    print(line)
    return 1 if totals[1] or not args else 0


if __name__ == "__main__":
    sys.exit(main())
