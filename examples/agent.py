#!/usr/bin/env python3
"""A tiny agent: asks a local model server for a chat completion.

Run it inside lpa-run so it can reach the model server and nothing else:

    lpa-run --profile agent --connect 127.0.0.1:8080 python3 examples/agent.py

Options: --port PORT (default 8080), --prompt TEXT, --try-port PORT (also try to
reach another host port and report whether it could: inside lpa-run it cannot).
"""
import argparse
import json
import socket
import sys
import urllib.request


def chat(port: int, prompt: str) -> str:
    body = json.dumps({
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 16,
        "temperature": 0,
    }).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.load(response)
    return reply["choices"][0]["message"]["content"]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--prompt", default="Say hello.")
    parser.add_argument("--try-port", type=int)
    args = parser.parse_args()
    answer = chat(args.port, args.prompt)
    print("model answered:", json.dumps(answer))
    if args.try_port is not None:
        print(f"port {args.try_port} reachable:", "yes" if reachable(args.try_port) else "no")
    return 0


if __name__ == "__main__":
    sys.exit(main())
