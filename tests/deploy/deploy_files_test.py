#!/usr/bin/python3
"""The deploy files against the binaries they configure.

docker-compose.yml, deploy/*.Dockerfile, deploy/k8s (rendered with
`kubectl kustomize`, secrets made by deploy/k8s/make_secrets.sh in a
scratch copy) and deploy/slurm hand NAS_* variables and --flags to
nas-controller, nas-worker and nasctl, and NAS_* variables to
deploy/sql/docker-init.sh in the postgres container. Checks that each one
exists, and that the files agree on the gRPC port, the secret files and the
worker's data folder. Run by ctest (tests/CMakeLists.txt), or by hand:

    /usr/bin/python3 tests/deploy/deploy_files_test.py \\
      --controller build/controller/nas-controller \\
      --worker build/worker/nas-worker --nasctl build/nasctl/nasctl

A variable exists when the binary's help names it and the binary holds its
name as a C string (what getenv is called with): a typo such as
NAS_DATABSE_URL fails, and so does a name only a help text mentions.
Needs kubectl (the environment variable KUBECTL overrides which one),
openssl and PyYAML.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
NAS_NAME = re.compile(r"\bNAS_[A-Z0-9_]+\b")
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_]*)")
# absl's --helpfull lists a flag as "    --name (help); default: ...",
# nasctl's --help as "  --name ARG  help" or "  -o, --output ...".
ABSL_FLAG_LINE = r"^    --([a-z0-9_]+) \("
NASCTL_FLAG_LINE = r"^  (?:-\w, )?--([a-z0-9_]+)\b"
COMMITTED_IN_SECRETS = {"kustomization.yaml", ".gitignore"}
ARGS = None  # the binaries' paths
STATE = {}  # what setUpModule prepared


class Program:
    """What a program reads: NAS_* variables and --flags."""

    def __init__(self, name, env, flags, help_text=""):
        self.name = name
        self.env = env
        self.flags = flags
        self.help_text = help_text


def load_binary(name, path, help_flag, flag_line):
    # Compiled defaults, not those this environment's NAS_* would give.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NAS_")}
    run = subprocess.run([path, help_flag], capture_output=True, text=True,
                         env=clean, check=False)
    text = run.stdout + run.stderr
    flags = set(re.findall(flag_line, text, re.M))
    if not flags:
        raise AssertionError(f"{path} {help_flag} lists no flags:\n{text}")
    elf = Path(path).read_bytes()
    env = {n for n in NAS_NAME.findall(text)
           if re.search(rb"(?<![A-Z0-9_])" + n.encode() + rb"\x00", elf)}
    return Program(name, env, flags, " ".join(text.split()))


def load_programs():
    init = (REPO / "deploy/sql/docker-init.sh").read_text()
    return {
        "nas-controller": load_binary("nas-controller", ARGS.controller,
                                      "--helpfull", ABSL_FLAG_LINE),
        "nas-worker": load_binary("nas-worker", ARGS.worker, "--helpfull",
                                  ABSL_FLAG_LINE),
        "nasctl": load_binary("nasctl", ARGS.nasctl, "--help",
                              NASCTL_FLAG_LINE),
        "docker-init.sh": Program(
            "docker-init.sh",
            set(re.findall(r"\$\{?(NAS_[A-Z0-9_]+)", init)), set()),
    }


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def default_of(program, flag):
    match = re.search(r"--" + flag + r" \(.*?\); default: \"([^\"]*)\"",
                      program.help_text)
    assert match, f"no default for --{flag} in {program.name}'s help"
    return match.group(1)


class Dockerfile:
    """What deploy/NAME.Dockerfile puts in the image nas-NAME."""

    def __init__(self, path):
        self.path = path
        self.text = path.read_text()
        self.image = "nas-" + path.name.split(".")[0]
        self.binaries = re.findall(
            r"^COPY --from=\S+ /src/build/\S*/([\w-]+) /usr/local/bin/",
            self.text, re.M)
        self.env = {}
        for line in re.findall(r"^ENV (.*)$", self.text, re.M):
            self.env.update(pair.split("=", 1) for pair in line.split())
        self.expose = [int(p) for p in
                       re.findall(r"^EXPOSE (\d+)", self.text, re.M)]
        self.data_dirs = re.findall(r"^COPY --from=\S+ /data (\S+)",
                                    self.text, re.M)
        self.arguments = [
            arg for command in re.findall(
                r"^(?:ENTRYPOINT|CMD) (\[.*\])$", self.text, re.M)
            for arg in json.loads(command)]


def image_name(image):
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


def pod_containers(docs):
    """(kind/name, container, pod spec) of every workload in `docs`."""
    for doc in docs:
        template = (doc.get("spec") or {}).get("template")
        if template:
            spec = template["spec"]
            for c in spec.get("containers", []) + spec.get(
                    "initContainers", []):
                yield f"{doc['kind']}/{doc['metadata']['name']}", c, spec


def old_kustomize(kubectl):
    """kubectl before 1.21 (Debian 12's kubernetes-client is 1.20) embeds
    kustomize 2.0, which takes folders only under `bases:`."""
    run = subprocess.run([kubectl, "version", "--client", "-o", "json"],
                         capture_output=True, text=True, check=True)
    minor = json.loads(run.stdout)["clientVersion"]["minor"]
    return int(re.match(r"\d+", minor).group()) < 21


def move_folders_to_bases(root):
    for path in root.rglob("kustomization.yaml"):
        k = yaml.safe_load(path.read_text())
        folders = [r for r in k.get("resources", [])
                   if (path.parent / r).is_dir()]
        if folders:
            k["resources"] = [r for r in k["resources"] if r not in folders]
            k["bases"] = folders
            path.write_text(yaml.safe_dump(k))


def setUpModule():
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        raise AssertionError("kubectl not found: run scripts/install_deps.sh")
    scratch = Path(tempfile.mkdtemp(prefix="nas-deploy-test-"))
    unittest.addModuleCleanup(shutil.rmtree, scratch, ignore_errors=True)

    # What a user does: make the secrets, then render; with fresh secrets,
    # never a copy of the checkout's own.
    def committed_only(folder, names):
        if Path(folder) == REPO / "deploy/k8s/secrets":
            return [n for n in names if n not in COMMITTED_IN_SECRETS]
        return ["secrets"] if Path(folder) == REPO / "deploy" else []

    shutil.copytree(REPO / "deploy", scratch / "deploy", ignore=committed_only)
    (scratch / "scripts").mkdir()
    shutil.copy2(REPO / "scripts/make_certs.sh", scratch / "scripts")
    subprocess.run([scratch / "deploy/k8s/make_secrets.sh"], check=True,
                   capture_output=True)
    STATE["secret_files"] = {
        p.name for p in (scratch / "deploy/k8s/secrets").iterdir()
        if p.name not in COMMITTED_IN_SECRETS}
    if old_kustomize(kubectl):
        move_folders_to_bases(scratch / "deploy")
    STATE["k8s"] = {}
    for entry in ("deploy/k8s", "deploy/k8s/external-db"):
        run = subprocess.run([kubectl, "kustomize", scratch / entry],
                             capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise AssertionError(f"kubectl kustomize {entry}:\n{run.stderr}")
        STATE["k8s"][entry] = [d for d in yaml.safe_load_all(run.stdout) if d]
    STATE["programs"] = load_programs()
    dockerfiles = sorted((REPO / "deploy").glob("*.Dockerfile"))
    STATE["dockerfiles"] = {d.image: d for d in map(Dockerfile, dockerfiles)}
    STATE["compose"] = yaml.safe_load(
        (REPO / "docker-compose.yml").read_text())["services"]
    STATE["slurm"] = (REPO / "deploy/slurm/nas-worker.sbatch").read_text()


def compose_env(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def compose_arguments(service):
    arguments = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        arguments += value.split() if isinstance(value, str) else value
    return arguments


def slurm_worker_arguments(text):
    """The arguments of the nas-worker the job script starts."""
    lines = [line for line in text.replace("\\\n", " ").splitlines()
             if re.search(r"(^|\s)nas-worker\s", line)
             and not line.lstrip().startswith("#")]
    assert len(lines) == 1, f"expected one nas-worker command, got {lines}"
    return lines[0].split("nas-worker", 1)[1].split()


def programs_of_image(image):
    programs = STATE["programs"]
    name = image_name(image)
    if name == "postgres":
        return [programs["docker-init.sh"]]
    dockerfile = STATE["dockerfiles"].get(name)
    assert dockerfile, f"image {image}: no deploy/*.Dockerfile builds it"
    return [programs[b] for b in dockerfile.binaries]


def programs_of_service(service):
    if "build" in service:
        dockerfile = Path(service["build"]["dockerfile"])
        return programs_of_image("nas-" + dockerfile.name.split(".")[0])
    return programs_of_image(service["image"])


def every_use():
    """(where, NAS_* variables, arguments, programs that read them) for
    every place that configures a program."""
    for name, service in STATE["compose"].items():
        yield (f"docker-compose.yml service {name}", compose_env(service),
               compose_arguments(service), programs_of_service(service))
    for image, d in STATE["dockerfiles"].items():
        # Comments too: a name there is documentation, and must be right.
        yield (f"deploy/{d.path.name}", dict.fromkeys(NAS_NAME.findall(d.text)),
               d.arguments[1:], programs_of_image(image))
    for entry, docs in STATE["k8s"].items():
        for workload, c, _ in pod_containers(docs):
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            yield (f"{entry} {workload} container {c['name']}", env,
                   c.get("command", [])[1:] + c.get("args", []),
                   programs_of_image(c["image"]))
    for path in sorted((REPO / "deploy/k8s").rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".sh"):
            yield (str(path.relative_to(REPO)),
                   dict.fromkeys(NAS_NAME.findall(path.read_text())), [],
                   list(STATE["programs"].values()))
    yield ("deploy/slurm/nas-worker.sbatch",
           dict.fromkeys(NAS_NAME.findall(STATE["slurm"])),
           slurm_worker_arguments(STATE["slurm"]),
           [STATE["programs"]["nas-worker"]])


class NamesTest(unittest.TestCase):

    def test_every_variable_is_read_by_its_program(self):
        problems = [
            f"{where}: {name} is read by none of {[p.name for p in programs]}"
            for where, env, _, programs in every_use() for name in env
            if name.startswith("NAS_")
            and not any(name in p.env for p in programs)]
        self.assertEqual(problems, [], "\n".join(problems))

    def test_every_flag_exists(self):
        problems = [
            f"{where}: --{flag} is a flag of none of "
            f"{[p.name for p in programs]}"
            for where, _, arguments, programs in every_use()
            for flag in FLAG.findall(" ".join(arguments))
            if not any(flag in p.flags for p in programs)]
        self.assertEqual(problems, [], "\n".join(problems))

    def test_the_parsing_finds_what_is_there(self):
        # A check that finds nothing to check passes for nothing.
        uses = {where: (env, args) for where, env, args, _ in every_use()}
        slurm = uses["deploy/slurm/nas-worker.sbatch"]
        self.assertIn("NAS_TLS_CA", slurm[0])
        self.assertIn("--device=cuda", slurm[1])
        self.assertIn("NAS_DATABASE_URL", uses[
            "deploy/k8s Deployment/controller container controller"][0])
        self.assertIn("NAS_DATA_DIR", uses["deploy/worker.Dockerfile"][0])
        self.assertEqual(STATE["dockerfiles"]["nas-controller"].binaries,
                         ["nas-controller", "nasctl"])
        self.assertEqual(STATE["dockerfiles"]["nas-worker"].binaries,
                         ["nas-worker"])
        programs = STATE["programs"]
        self.assertIn("NAS_TOKEN", programs["nas-worker"].env)
        self.assertNotIn("NAS_TOKEN", programs["nas-controller"].env)
        self.assertIn("token_file", programs["nasctl"].flags)
        self.assertIn("NAS_READER_PASSWORD", programs["docker-init.sh"].env)


def objects(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container_of(docs, image):
    found = [(c, spec) for _, c, spec in pod_containers(docs)
             if image_name(c["image"]) == image]
    assert len(found) == 1, f"expected one {image} container, got {found}"
    return found[0]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def container_port(container, port):
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"]
                if p["name"] == port)


def secret_paths(env):
    return {k: v for k, v in env.items()
            if k.startswith("NAS_") and v and v.startswith("/secrets/")}


class AgreementTest(unittest.TestCase):

    def test_grpc_port(self):
        programs = STATE["programs"]
        port = port_of(default_of(programs["nas-controller"], "listen"))
        self.assertEqual(port, 50051)
        compose = STATE["compose"]
        controller = STATE["dockerfiles"]["nas-controller"]
        found = {
            "nas-worker --controller default":
                port_of(default_of(programs["nas-worker"], "controller")),
            "controller.Dockerfile EXPOSE": controller.expose[0],
            "controller.Dockerfile NAS_LISTEN":
                port_of(controller.env["NAS_LISTEN"]),
            "compose controller NAS_LISTEN":
                port_of(compose_env(compose["controller"])["NAS_LISTEN"]),
            "compose controller ports":
                port_of(compose["controller"]["ports"][0]),
            "compose worker NAS_CONTROLLER":
                port_of(compose_env(compose["worker"])["NAS_CONTROLLER"]),
            "slurm example NAS_CONTROLLER": port_of(
                re.search(r"NAS_CONTROLLER=(\S+)", STATE["slurm"]).group(1)),
        }
        for entry, docs in STATE["k8s"].items():
            c, _ = container_of(docs, "nas-controller")
            found[f"{entry} controller NAS_LISTEN"] = port_of(
                env_of(c)["NAS_LISTEN"])
            for probe in ("startupProbe", "readinessProbe"):
                found[f"{entry} controller {probe}"] = container_port(
                    c, c[probe]["tcpSocket"]["port"])
            # The workers' address is a Service that leads to that port.
            worker, _ = container_of(docs, "nas-worker")
            host, service_port = env_of(worker)["NAS_CONTROLLER"].split(":")
            found[f"{entry} worker NAS_CONTROLLER"] = int(service_port)
            service = objects(docs, "Service").get(host)
            self.assertIsNotNone(service, f"{entry}: no Service {host}")
            labels = objects(docs, "Deployment")["controller"]["spec"][
                "template"]["metadata"]["labels"]
            self.assertLessEqual(service["spec"]["selector"].items(),
                                 labels.items(), f"{entry} Service {host}")
            ports = [p for p in service["spec"]["ports"]
                     if p["port"] == int(service_port)]
            self.assertEqual(
                len(ports), 1, f"{entry}: Service {host} port {service_port}")
            found[f"{entry} Service {host} targetPort"] = container_port(
                c, ports[0]["targetPort"])
        wrong = {k: v for k, v in found.items() if v != port}
        self.assertEqual(wrong, {}, f"expected port {port} everywhere")

    def test_metrics_port(self):
        """NAS_HTTP_LISTEN, the published ports, the Service, the liveness
        probe (/healthz over HTTPS: the controller serves TLS) and the
        Prometheus annotation all name one port."""
        compose = STATE["compose"]
        port = port_of(compose_env(compose["controller"])["NAS_HTTP_LISTEN"])
        found = {"compose controller ports": [
            port_of(p) for p in compose["controller"]["ports"]
            if port_of(p) != 50051]}
        for entry, docs in STATE["k8s"].items():
            c, _ = container_of(docs, "nas-controller")
            env = env_of(c)
            found[f"{entry} NAS_HTTP_LISTEN"] = port_of(env["NAS_HTTP_LISTEN"])
            probe = c["livenessProbe"]["httpGet"]
            self.assertEqual((probe["path"], probe["scheme"]),
                             ("/healthz", "HTTPS"), entry)
            found[f"{entry} livenessProbe"] = container_port(c, probe["port"])
            template = objects(docs, "Deployment")["controller"]["spec"][
                "template"]["metadata"]
            found[f"{entry} prometheus.io/port"] = int(
                template["annotations"]["prometheus.io/port"])
            service = objects(docs, "Service")["controller"]
            ports = [p for p in service["spec"]["ports"]
                     if p["name"] == "metrics"]
            self.assertEqual(len(ports), 1, entry)
            found[f"{entry} Service targetPort"] = container_port(
                c, ports[0]["targetPort"])
        found["compose controller ports"] = (
            found["compose controller ports"] == [port] and port)
        wrong = {k: v for k, v in found.items() if v != port}
        self.assertEqual(wrong, {}, f"expected port {port} everywhere")

    def test_secret_files(self):
        made = STATE["secret_files"]
        compose_paths = {}
        for role in ("controller", "worker"):
            service = STATE["compose"][role]
            self.assertIn("./deploy/secrets:/secrets:ro", service["volumes"])
            compose_paths[role] = secret_paths(compose_env(service))
            self.assertTrue(compose_paths[role], role)
            for name, path in compose_paths[role].items():
                self.assertIn(Path(path).name, made,
                              f"compose {role} {name}: scripts/make_certs.sh "
                              f"makes no {Path(path).name}")
        for entry, docs in STATE["k8s"].items():
            secrets = objects(docs, "Secret")
            for role in ("controller", "worker"):
                c, spec = container_of(docs, "nas-" + role)
                paths = secret_paths(env_of(c))
                self.assertEqual(paths, compose_paths[role],
                                 f"{entry} {role}: not compose's files")
                volumes = {v["name"]: v for v in spec.get("volumes", [])}
                mounts = {m["mountPath"]: volumes[m["name"]]
                          for m in c["volumeMounts"]}
                for name, path in paths.items():
                    volume = mounts[str(Path(path).parent)]
                    keys = sorted(
                        secrets[volume["secret"]["secretName"]]["data"])
                    self.assertIn(Path(path).name, keys,
                                  f"{entry} {role} {name}")
            for _, c, _ in pod_containers(docs):
                for e in c.get("env", []):
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        keys = sorted(secrets[ref["name"]]["data"])
                        self.assertIn(ref["key"], keys,
                                      f"{entry} {c['name']} {e['name']}")
        # The Slurm job's defaults name the files compose's worker reads.
        for name, default in re.findall(r"\$\{(NAS_[A-Z_]+):-([^}]+)\}",
                                        STATE["slurm"]):
            if name in compose_paths["worker"]:
                self.assertEqual(Path(default).name,
                                 Path(compose_paths["worker"][name]).name,
                                 f"slurm {name}")

    def test_worker_data_dir(self):
        dockerfile = STATE["dockerfiles"]["nas-worker"]
        self.assertEqual(len(dockerfile.data_dirs), 1)
        image_default = dockerfile.env.get("NAS_DATA_DIR")
        found = {
            "worker.Dockerfile ENV": image_default,
            "compose worker": compose_env(STATE["compose"]["worker"]).get(
                "NAS_DATA_DIR", image_default),
        }
        for entry, docs in STATE["k8s"].items():
            c, _ = container_of(docs, "nas-worker")
            found[f"{entry} worker"] = env_of(c).get("NAS_DATA_DIR",
                                                     image_default)
        data_dir = dockerfile.data_dirs[0]
        wrong = {k: v for k, v in found.items() if v != data_dir}
        self.assertEqual(wrong, {}, f"the image holds the data in {data_dir}")


class KubernetesTest(unittest.TestCase):

    def test_workers_take_one_gpu_each(self):
        for entry, docs in STATE["k8s"].items():
            c, _ = container_of(docs, "nas-worker")
            self.assertEqual(str(c["resources"]["limits"]["nvidia.com/gpu"]),
                             "1", entry)
            self.assertEqual(env_of(c)["NAS_DEVICE"], "cuda", entry)

    def test_postgres_only_in_the_default(self):
        default = STATE["k8s"]["deploy/k8s"]
        postgres = objects(default, "StatefulSet")["postgres"]
        self.assertTrue(postgres["spec"]["volumeClaimTemplates"])
        sql = next(d for d in default if d["kind"] == "ConfigMap")
        for name in ("docker-init.sh", "roles.sql", "reader_grants.sql"):
            self.assertEqual(sql["data"][name],
                             (REPO / "deploy/sql" / name).read_text(), name)
        external = [d["kind"] for d in STATE["k8s"]["deploy/k8s/external-db"]]
        self.assertNotIn("StatefulSet", external)
        self.assertNotIn("ConfigMap", external)

    def test_every_container_requests_resources(self):
        for entry, docs in STATE["k8s"].items():
            for workload, c, _ in pod_containers(docs):
                self.assertIn("requests", c.get("resources", {}),
                              f"{entry} {workload}")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", required=True, help="nas-controller")
    parser.add_argument("--worker", required=True, help="nas-worker")
    parser.add_argument("--nasctl", required=True, help="nasctl")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
