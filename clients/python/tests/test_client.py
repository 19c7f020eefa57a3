"""nas_client against the real service: a controller and a worker started
from the build, PostgreSQL from NAS_TEST_DATABASE_URL, real training on
MNIST (NAS_DATA_DIR). Run by ctest (clients/python/CMakeLists.txt), or by
hand:

    NAS_CONTROLLER_BINARY=build/controller/nas-controller \\
    NAS_WORKER_BINARY=build/worker/nas-worker \\
    NAS_TEST_DATABASE_URL=... NAS_DATA_DIR=data \\
    python3 clients/python/tests/test_client.py
"""
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import generate_stubs  # noqa: E402

if generate_stubs.main() != 0:
    sys.exit("cannot generate the stubs")

import grpc  # noqa: E402

import nas_client  # noqa: E402

SPEC = """
name: py-client
seed: 3
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1], widths: [8, 16], ops: [conv3x3, ir_k3_e3], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 3, parallelism: 2, max_attempts: 2}
training: {epochs: 3, data_fraction: 1.0, batch_size: 64, learning_rate: 0.05}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url: str, name: str) -> str:
    scheme, rest = url.split("://", 1)
    authority = rest.split("/", 1)[0]
    query = rest.split("?", 1)[1] if "?" in rest else ""
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [v for v in ("NAS_CONTROLLER_BINARY", "NAS_WORKER_BINARY",
                               "NAS_TEST_DATABASE_URL", "NAS_DATA_DIR")
                   if not os.environ.get(v)]
        if missing:
            raise unittest.SkipTest("set " + ", ".join(missing))
        admin = os.environ["NAS_TEST_DATABASE_URL"]
        cls.db = "nas_pyclient_" + uuid.uuid4().hex[:10]
        subprocess.run(["psql", "-X", "-q", admin, "-c",
                        f"CREATE DATABASE {cls.db}"], check=True)
        cls.admin = admin
        cls.logs = tempfile.TemporaryDirectory()
        cls.address = f"127.0.0.1:{free_port()}"
        cls.processes = []
        cls.start("controller", [
            os.environ["NAS_CONTROLLER_BINARY"], f"--listen={cls.address}",
            f"--database_url={with_database(admin, cls.db)}", "--plaintext",
            "--lease_seconds=30"])
        channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(channel).result(timeout=60)
        channel.close()
        cls.start("worker", [
            os.environ["NAS_WORKER_BINARY"], f"--controller={cls.address}",
            "--plaintext", "--device=cpu", "--threads=1",
            f"--data_dir={os.environ['NAS_DATA_DIR']}",
            "--acquire_wait_ms=2000"])
        cls.nas = nas_client.Client(cls.address, plaintext=True)

    @classmethod
    def start(cls, name, argv):
        log = open(pathlib.Path(cls.logs.name) / f"{name}.log", "wb")
        cls.processes.append((name, subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT)))

    @classmethod
    def tearDownClass(cls):
        cls.nas.close()
        for _, p in reversed(cls.processes):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["psql", "-X", "-q", cls.admin, "-c",
                        f"DROP DATABASE IF EXISTS {cls.db} WITH (FORCE)"],
                       check=False)
        cls.logs.cleanup()

    def logs_text(self) -> str:
        out = []
        for name, _ in self.processes:
            path = pathlib.Path(self.logs.name) / f"{name}.log"
            out.append(f"--- {name} ---\n" + path.read_text()[-4000:])
        return "\n".join(out)

    def test_submit_watch_and_read_results(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(SPEC)
            f.flush()
            search = self.nas.submit(f.name)
        self.assertEqual(search.name, "py-client")
        self.assertEqual(search.state, "RUNNING")
        self.assertEqual(search.max_trials, 3)

        kinds, finished = [], []
        for event in self.nas.watch(search.id, timeout=600):
            kinds.append(event.kind)
            # Every event's search is whole: the stream sends the spec
            # once, the client fills it into the others.
            self.assertEqual(event.search.name, "py-client", event.kind)
            self.assertEqual(event.search.max_trials, 3, event.kind)
            if event.kind == "trial_finished":
                finished.append(event.trial)
        self.assertEqual(kinds[0], "snapshot", self.logs_text())
        self.assertEqual(kinds[-1], "search_done", self.logs_text())
        self.assertIn("epoch_reported", kinds)
        done = self.nas.search(search.id)
        self.assertEqual(done.state, "COMPLETED", self.logs_text())
        self.assertTrue(done.done)
        self.assertEqual(done.counts["completed"], 3)
        self.assertIsNotNone(done.finished_at)

        trials = self.nas.trials(search.id)
        self.assertEqual([t.number for t in trials], [0, 1, 2])
        self.assertEqual({t.id for t in finished}, {t.id for t in trials})
        for t in trials:
            self.assertEqual(t.state, "COMPLETED")
            self.assertEqual(t.kind, "TRAIN")
            self.assertEqual(len(t.epochs), 3)
            self.assertGreater(t.metrics["val_accuracy"], 0)
            self.assertLessEqual(t.metrics["val_accuracy"], 1)
            self.assertIn("stage1.width=", t.architecture)

        best = self.nas.best_trials(search.id, k=2)
        self.assertFalse(best.pareto_front)
        self.assertEqual(len(best.trials), 2)
        top = max(t.metrics["val_accuracy"] for t in trials)
        self.assertEqual(best.trials[0].metrics["val_accuracy"], top)
        self.assertGreater(top, 0.5)  # learned: chance is 0.1
        self.assertGreaterEqual(best.trials[0].metrics["val_accuracy"],
                                best.trials[1].metrics["val_accuracy"])
        self.assertEqual(self.nas.trials(search.id, states=["FAILED"]), [])
        self.assertIn(search.id,
                      [s.id for s in self.nas.searches(name="py-client")])

        self.check_export(search.id, best.trials[0])

        try:
            frame = nas_client.trials_frame(trials)
        except ImportError:
            return  # pandas is optional
        self.assertEqual(list(frame["number"]), [0, 1, 2])

    def check_export(self, search_id: int, best) -> None:
        """The best model, exported and loaded in PyTorch, classifies the
        test images as its worker measured."""
        with tempfile.TemporaryDirectory() as out:
            with self.assertRaises(nas_client.NasError) as missing:
                self.nas.export_model(search_id, out, trial_number=99)
            self.assertEqual(missing.exception.code, grpc.StatusCode.NOT_FOUND)
            folder = self.nas.export_model(search_id, pathlib.Path(out) / "m")
            try:
                model = nas_client.load_model(folder)
            except ImportError:
                return  # python3-torch is optional for the client
            from nas_client.model import read_idx_images
            self.assertEqual(model.manifest["trial_number"], best.number)
            data = pathlib.Path(os.environ["NAS_DATA_DIR"]) / "mnist"
            images = read_idx_images(data / "t10k-images-idx3-ubyte")
            labels = list((data / "t10k-labels-idx1-ubyte").read_bytes()[8:])
            predicted = model.logits(images).argmax(1).tolist()
            accuracy = sum(p == y for p, y in zip(predicted, labels)) / len(
                labels)
            # Two images of 10,000: summation order may differ on a near tie.
            self.assertAlmostEqual(accuracy, best.metrics["test_accuracy"],
                                   delta=2e-4)

    def test_a_dict_spec_validates_with_defaults_filled_in(self):
        import yaml
        spec = yaml.safe_load(SPEC)
        checked = self.nas.validate(spec)
        self.assertEqual(checked["name"], "py-client")
        self.assertEqual(checked["budget"]["max_trials"], 3)
        self.assertEqual(checked["warnings"], [])

    def test_bad_input_is_a_clear_error(self):
        bad = SPEC.replace("ops: [conv3x3, ir_k3_e3]", "ops: [conv3x3, conv9x9]")
        with self.assertRaises(nas_client.NasError) as e:
            self.nas.submit(bad)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("spec_yaml: space.chain.stages[0].ops[1]",
                      e.exception.message)
        with self.assertRaises(nas_client.NasError) as e:
            self.nas.search(987654321)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(FileNotFoundError):
            self.nas.submit("no/such/spec.yaml")

    def test_cancel_ends_a_running_search(self):
        spec = SPEC.replace("max_trials: 3", "max_trials: 50").replace(
            "name: py-client", "name: py-cancel")
        search = self.nas.submit(spec)
        cancelled = self.nas.cancel(search.id)
        self.assertEqual(cancelled.state, "CANCELLED")
        self.assertEqual(self.nas.wait(search.id, timeout=60).state,
                         "CANCELLED")


class SecureClientTest(unittest.TestCase):
    """TLS and bearer tokens, as nasctl uses them: a controller with the
    certificates and tokens of scripts/make_certs.sh."""

    @classmethod
    def setUpClass(cls):
        if not os.environ.get("NAS_CONTROLLER_BINARY") or not os.environ.get(
                "NAS_TEST_DATABASE_URL"):
            raise unittest.SkipTest("set NAS_CONTROLLER_BINARY and "
                                    "NAS_TEST_DATABASE_URL")
        cls.dir = tempfile.TemporaryDirectory()
        d = pathlib.Path(cls.dir.name)
        root = HERE.parent.parent.parent
        subprocess.run(["bash", str(root / "scripts" / "make_certs.sh"),
                        str(d)], check=True, stdout=subprocess.DEVNULL)
        # A second client, to check that searches stay their owner's.
        (d / "other.token").write_text("other-client-token-0001\n")
        with open(d / "tokens", "a") as tokens:
            tokens.write("other client other-client-token-0001\n")
        admin = os.environ["NAS_TEST_DATABASE_URL"]
        cls.admin = admin
        cls.db = "nas_pyclient_tls_" + uuid.uuid4().hex[:10]
        subprocess.run(["psql", "-X", "-q", admin, "-c",
                        f"CREATE DATABASE {cls.db}"], check=True)
        port = free_port()
        cls.address = f"127.0.0.1:{port}"
        cls.log = open(d / "controller.log", "wb")
        cls.controller = subprocess.Popen(
            [os.environ["NAS_CONTROLLER_BINARY"], f"--listen={cls.address}",
             f"--database_url={with_database(admin, cls.db)}",
             f"--tls_cert={d / 'server.pem'}", f"--tls_key={d / 'server.key'}",
             f"--auth_tokens_file={d / 'tokens'}"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        cls.ca = str(d / "ca.pem")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(d / "ca.pem").read_bytes())
        channel = grpc.secure_channel(cls.address, credentials)
        grpc.channel_ready_future(channel).result(timeout=60)
        channel.close()

    @classmethod
    def tearDownClass(cls):
        cls.controller.terminate()
        try:
            cls.controller.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.controller.kill()
        cls.log.close()
        subprocess.run(["psql", "-X", "-q", cls.admin, "-c",
                        f"DROP DATABASE IF EXISTS {cls.db} WITH (FORCE)"],
                       check=False)
        cls.dir.cleanup()

    def client(self, token_file=None, token=None):
        return nas_client.Client(self.address, tls_ca=self.ca,
                                 token_file=token_file, token=token)

    def test_tokens_decide_who_may_call_and_see(self):
        d = pathlib.Path(self.dir.name)
        with self.client(token_file=str(d / "client.token")) as user:
            search = user.submit(SPEC)
            self.assertEqual(user.search(search.id).id, search.id)
            self.assertNotEqual(search.owner, "")
        with self.client(token_file=str(d / "other.token")) as other:
            with self.assertRaises(nas_client.NasError) as e:
                other.search(search.id)
            self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.client() as anonymous:
            with self.assertRaises(nas_client.NasError) as e:
                anonymous.searches()
            self.assertEqual(e.exception.code,
                             grpc.StatusCode.UNAUTHENTICATED)
        with self.client(token="not-a-token") as forger:
            with self.assertRaises(nas_client.NasError) as e:
                forger.searches()
            self.assertEqual(e.exception.code,
                             grpc.StatusCode.UNAUTHENTICATED)

    def test_an_untrusted_certificate_is_refused(self):
        # No CA given: the system roots do not trust the private CA.
        with nas_client.Client(self.address, token="x", timeout=10) as nas:
            with self.assertRaises(nas_client.NasError) as e:
                nas.searches()
            self.assertEqual(e.exception.code, grpc.StatusCode.UNAVAILABLE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
