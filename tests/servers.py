"""Real servers for the tests: an MLflow tracking server and MLflow model servers.

Each is started on a free loopback port, waited for on its health endpoint, and stopped by
its own process id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = proc.stderr.read()[-2000:]
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started with its own process group, by its PID."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def start_tracking_server(root: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "OMP_WAIT_POLICY": "passive"},
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/health", proc)
    return url, proc


def start_model_server(model_uri: str, tracking_uri: str) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "OMP_WAIT_POLICY": "passive",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        },
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/ping", proc)
    return url, proc


class KServeV2Server:
    """A small Open Inference Protocol (KServe v2) server for a real in-process model.

    ``fail_first`` requests answer 503 first (to exercise retries); the headers of every
    request are kept in ``seen_headers``. Runs in a thread on a free loopback port.
    """

    def __init__(self, model, name: str, version: str = "7", fail_first: int = 0):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import pandas as pd

        self.seen_headers: list[dict[str, str]] = []
        #: The query string of every request (the part after ``?``, empty without one).
        self.seen_queries: list[str] = []
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                server.requests += 1
                server.seen_headers.append(dict(self.headers))
                path, _, query = self.path.partition("?")
                server.seen_queries.append(query)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if server.requests <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                if path != f"/v2/models/{name}/infer":
                    self.send_response(404)
                    self.end_headers()
                    return
                frame = pd.DataFrame({i["name"]: i["data"] for i in body["inputs"]})
                out = [int(v) for v in model.predict(frame)]
                answer = json.dumps(
                    {
                        "model_name": name,
                        "model_version": version,
                        "outputs": [
                            {
                                "name": "predict",
                                "shape": [len(out)],
                                "datatype": "INT64",
                                "data": out,
                            }
                        ],
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
