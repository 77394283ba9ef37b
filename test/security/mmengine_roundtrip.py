"""Loads yunshi-generated configs with the pinned mmengine's Config.fromfile, the way the
trainer does, and prints chosen values back as JSON (test/security/mmengine-roundtrip.test.ts).

One request per line on stdin: {"config": "/path/config.py", "fields": [["a", "b"], ...]}.
One answer per line on stdout: {"values": [...]} or {"error": "..."}. ASCII-only JSON, so
the bytes of every string survive the pipe exactly.
"""
import json
import os
import sys

from mmengine.config import Config


def plain(value):
    """ConfigDict/tuple → dict/list, so that JSON can carry them."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def lookup(cfg, path):
    node = cfg
    for part in path:
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    return plain(node)


def main():
    # Answers go to the original stdout; anything else printed while loading (mmengine's
    # "Using env variable" log, a command a config managed to run) goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="ascii")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        request = json.loads(line)
        try:
            cfg = Config.fromfile(request["config"])
            answer = {"values": [lookup(cfg, p) for p in request["fields"]]}
        except Exception as err:  # reported to the test, which fails with it
            answer = {"error": f"{type(err).__name__}: {err}"}
        answers.write(json.dumps(answer, ensure_ascii=True) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
