"""nas_client.model on export folders written here (no service, no build):
the rebuilt network must carry exactly the C++ tensor names and shapes
(worker/train/model_builder.cc), compute what the C++ forward computes, and
refuse damaged or foreign exports saying why. Needs torch; the ONNX test
also onnx. Run:

    cd clients/python && python3 -m unittest tests.test_model -v
"""
import hashlib
import importlib.util
import json
import pathlib
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
MODEL_PY = HERE.parent / "nas_client" / "model.py"
sys.path.insert(0, str(HERE.parent))

try:
    import torch
    from torch.nn import functional as F
except ImportError:
    raise unittest.SkipTest("needs torch (python3-torch)")


def import_model_module():
    """nas_client.model needs only torch, but importing it through the
    package runs nas_client/__init__, which needs the generated gRPC stubs:
    without them, load the file itself."""
    try:
        from nas_client import model
        return model
    except ImportError:
        spec = importlib.util.spec_from_file_location("nas_model", MODEL_PY)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


M = import_model_module()

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Ankle boot"]


def chain_manifest(head=0):
    """As ManifestToJson writes it: int64s as strings, zeros omitted."""
    chain = {"stem_channels": 8, "stem_stride": 2, "layers": [
        {"op": "conv3x3", "out_channels": 16, "stride": 2},
        {"op": "ir_k3_e3", "out_channels": 16, "stride": 1},
        {"op": "ir_k5_e6", "out_channels": 24, "stride": 2},
        {"op": "skip", "out_channels": 24, "stride": 1},
        {"op": "skip", "out_channels": 32, "stride": 1}]}
    if head:
        chain["head_channels"] = head
    return {"format": "nas-model/1", "search_id": "12",
            "search_name": "demo", "trial_kind": "TRIAL_KIND_RETRAIN",
            "dataset": "DATASET_NAME_FASHION_MNIST",
            "input": {"channels": 1, "height": 28, "width": 28,
                      "num_classes": 10, "mean": [0.286], "std": [0.353]},
            "class_names": FASHION, "network": {"chain": chain},
            "architecture": {"choices": [0, 1], "text": "x"},
            "metrics": {"val_accuracy": 0.8, "params": "1234"}}


def cell_manifest(edge_ops, channels=8, stem_stride=1, size=28):
    return {"format": "nas-model/1", "search_id": "3", "trial_number": 4,
            "dataset": "DATASET_NAME_MNIST",
            "input": {"channels": 1, "height": size, "width": size,
                      "num_classes": 10, "mean": [0.1307], "std": [0.3081]},
            "network": {"cell": {"channels": channels, "cells_per_stage": 1,
                                 "edge_ops": edge_ops,
                                 "stem_stride": stem_stride}}}


def random_weights(model, seed=0):
    """Every tensor the C++ trainer keeps, random (running statistics
    included, so that eval-mode batch norm does something)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        values = torch.randn(t.shape, generator=g) * 0.5
        if name.endswith("running_var"):
            values = values.abs() + 0.5
        out[name] = values
    return out


def write_export(directory, manifest, tensors=None, seed=0):
    """An export folder; returns the weights written."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if tensors is None:
        (directory / "model.json").write_text(json.dumps(
            dict(manifest, weights={"file": "weights.nastensor", "size": "0",
                                    "sha256": "0" * 64})))
        checked = M.read_manifest(directory)
        tensors = random_weights(M.ExportedModel(checked), seed)
    data = M.write_tensor_archive(directory / "weights.nastensor", tensors)
    manifest = dict(manifest, weights={
        "file": "weights.nastensor", "size": str(len(data)),
        "sha256": hashlib.sha256(data).hexdigest()})
    (directory / "model.json").write_text(json.dumps(manifest, indent=2))
    return tensors


def images(n, size=28, channels=1, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g,
                         dtype=torch.uint8)


def shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def bn(prefix, c):
    return {f"{prefix}.{k}": [c] for k in
            ("weight", "bias", "running_mean", "running_var")}


class ExportTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()


class TensorArchiveTest(ExportTestCase):
    def test_round_trip_in_name_order(self):
        tensors = {"b": torch.arange(6.).reshape(2, 3), "a": torch.tensor(2.5),
                   "c.empty": torch.zeros(0, 4)}
        data = M.write_tensor_archive(self.dir / "t", tensors)
        self.assertEqual(data[:8], b"NASTNSR1")
        self.assertEqual(struct.unpack("<I", data[8:12])[0], 3)
        self.assertEqual(data[12:17], b"\x01\x00\x00\x00a")  # "a" first
        back = M.read_tensor_archive(self.dir / "t")
        self.assertEqual(list(back), ["a", "b", "c.empty"])
        for name, t in tensors.items():
            self.assertTrue(torch.equal(back[name], t), name)

    def test_malformed_archives_are_refused(self):
        good = M.write_tensor_archive(None, {"a": torch.ones(2),
                                             "b": torch.ones(1)})
        swapped = M.write_tensor_archive(None, {"a": torch.ones(1)}).replace(
            b"\x01\x00\x00\x00a", b"\x01\x00\x00\x00z")
        unordered = good[:12] + good[12 + 4 + 1 + 4 + 8 + 8:] + \
            good[12:12 + 4 + 1 + 4 + 8 + 8]
        for data, message in ((b"NASTNSR2" + good[8:], "bad magic"),
                              (good + b"\0", "trailing bytes"),
                              (good[:-1], "truncated values of b"),
                              (unordered, "strictly increasing"),
                              (swapped[:-4], "truncated values of z")):
            with self.assertRaisesRegex(ValueError, message):
                M.read_tensor_archive(data)


class ChainNetworkTest(ExportTestCase):
    def test_tensor_names_and_shapes_match_the_cpp_network(self):
        write_export(self.dir, chain_manifest(head=32))
        model = M.load_model(self.dir)
        ir = lambda p, cin, h, k, cout: {  # noqa: E731
            f"{p}.body.0.weight": [h, cin, 1, 1], **bn(f"{p}.body.1", h),
            f"{p}.body.3.weight": [h, 1, k, k], **bn(f"{p}.body.4", h),
            f"{p}.body.6.weight": [cout, h, 1, 1], **bn(f"{p}.body.7", cout)}
        expected = {
            "body.stem.conv.weight": [8, 1, 3, 3], **bn("body.stem.bn", 8),
            "body.layer1.conv.weight": [16, 8, 3, 3],
            **bn("body.layer1.bn", 16),
            **ir("body.layer2", 16, 48, 3, 16),
            **ir("body.layer3", 16, 96, 5, 24),
            # layer4: skip 24 -> 24, stride 1: the identity, no tensors.
            "body.layer5.conv.weight": [32, 24, 1, 1],
            **bn("body.layer5.bn", 32),
            "body.head.conv.weight": [32, 32, 1, 1], **bn("body.head.bn", 32),
            "classifier.weight": [10, 32], "classifier.bias": [10]}
        self.assertEqual(shapes(model), expected)
        self.assertFalse(model.training)
        self.assertEqual(M.count_parameters(model), sum(
            torch.Size(s).numel() for k, s in expected.items()
            if "running" not in k))

    def test_forward_matches_a_functional_reference(self):
        """model_builder.cc's chain forward, written out op by op."""
        w = write_export(self.dir, chain_manifest(head=32))
        model = M.load_model(self.dir)

        def conv(x, p, stride=1, groups=1):
            k = w[p + ".weight"].shape[-1]
            return F.conv2d(x, w[p + ".weight"], None, stride, k // 2, 1,
                            groups)

        def norm(x, p):
            return F.batch_norm(x, w[p + ".running_mean"],
                                w[p + ".running_var"], w[p + ".weight"],
                                w[p + ".bias"], False, 0.1, 1e-5)

        def ir(x, p, stride, residual):
            h = F.relu6(norm(conv(x, p + ".body.0"), p + ".body.1"))
            h = F.relu6(norm(conv(h, p + ".body.3", stride, h.shape[1]),
                             p + ".body.4"))
            h = norm(conv(h, p + ".body.6"), p + ".body.7")
            return h + x if residual else h

        x = model.preprocess(images(5))
        y = F.relu(norm(conv(x, "body.stem.conv", 2), "body.stem.bn"))
        y = F.relu(norm(conv(y, "body.layer1.conv", 2), "body.layer1.bn"))
        y = ir(y, "body.layer2", 1, True)
        y = ir(y, "body.layer3", 2, False)
        y = norm(conv(y, "body.layer5.conv"), "body.layer5.bn")
        y = F.relu(norm(conv(y, "body.head.conv"), "body.head.bn"))
        y = F.linear(y.mean((2, 3)), w["classifier.weight"],
                     w["classifier.bias"])
        with torch.no_grad():
            got = model(x)
        self.assertEqual(list(got.shape), [5, 10])
        torch.testing.assert_close(got, y, rtol=1e-5, atol=1e-5)

    def test_outputs_are_deterministic_and_equal_the_source_network(self):
        manifest = chain_manifest()
        write_export(self.dir, manifest)
        checked = M.read_manifest(self.dir)
        source = M.ExportedModel(checked)
        source.load_state_dict(dict(source.state_dict(), **random_weights(
            source)))
        pixels = images(7)
        a = M.load_model(self.dir).logits(pixels)
        b = M.load_model(self.dir).logits(pixels, batch_size=3)
        self.assertTrue(torch.equal(a, M.load_model(self.dir).logits(pixels)))
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, source.logits(pixels))
        self.assertNotIn("body.head.conv.weight", shapes(source))

    def test_manifest_defaults_and_int64_strings(self):
        write_export(self.dir, chain_manifest())
        m = M.read_manifest(self.dir)
        self.assertEqual(m["search_id"], 12)
        self.assertEqual(m["trial_number"], 0)  # omitted: proto3 default
        self.assertEqual(m["network"]["chain"]["head_channels"], 0)
        self.assertEqual(m["metrics"]["params"], 1234)
        self.assertEqual(m["trial_kind"], "TRIAL_KIND_RETRAIN")
        model = M.load_model(self.dir)
        self.assertEqual(model.class_names, FASHION)
        self.assertEqual(model.manifest, m)


class CellNetworkTest(ExportTestCase):
    OPS = ["nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1",
           "avg_pool_3x3", "none"]

    def test_tensor_names_and_shapes_match_the_cpp_network(self):
        write_export(self.dir, cell_manifest(self.OPS))
        model = M.load_model(self.dir)

        def rcb(p, cin, cout, k):
            return {f"{p}.conv.weight": [cout, cin, k, k],
                    **bn(p + ".bn", cout)}

        def cell(p, c):  # only the edges with weights: 1<-0 and 3<-0
            return {**rcb(p + ".edge1_0", c, c, 3),
                    **rcb(p + ".edge3_0", c, c, 1)}

        def reduce(p, c):
            return {**rcb(p + ".conv_a", c, 2 * c, 3),
                    **rcb(p + ".conv_b", 2 * c, 2 * c, 3),
                    f"{p}.shortcut.weight": [2 * c, c, 1, 1]}

        expected = {"body.stem.weight": [8, 1, 3, 3], **bn("body.stem_bn", 8),
                    **cell("body.cell0_0", 8), **reduce("body.reduce1", 8),
                    **cell("body.cell1_0", 16), **reduce("body.reduce2", 16),
                    **cell("body.cell2_0", 32), **bn("body.last_bn", 32),
                    "classifier.weight": [10, 32], "classifier.bias": [10]}
        self.assertEqual(shapes(model), expected)
        self.assertEqual([n for n, _ in model.body.named_children()],
                         ["stem", "stem_bn", "cell0_0", "reduce1", "cell1_0",
                          "reduce2", "cell2_0", "last_bn", "last_relu"])
        self.assertEqual([n for n, _ in model.body.cell0_0.named_children()],
                         ["edge1_0", "edge2_1", "edge3_0", "edge3_1"])

    def test_cell_forward_sums_edges_into_nodes(self):
        write_export(self.dir, cell_manifest(self.OPS))
        model = M.load_model(self.dir)
        cell = model.body.cell0_0
        x = torch.randn(2, 8, 7, 7)
        n1 = cell.edge1_0(x)
        pooled = F.avg_pool2d(n1, 3, 1, 1, count_include_pad=False)
        with torch.no_grad():
            torch.testing.assert_close(cell(x), cell.edge3_0(x) + pooled)
        # avg_pool_3x3 does not count the padding: a constant stays constant.
        ones = torch.ones(1, 8, 5, 5)
        self.assertTrue(torch.equal(cell.edge3_1(ones), ones))

    def test_zero_nodes_and_none_edges(self):
        # Node 1 gets nothing, so 2 <- 1 is skipped although built; node 3 is
        # the input through 3 <- 0: the cell is the identity.
        ops = ["none", "none", "nor_conv_3x3", "skip_connect", "none", "none"]
        write_export(self.dir, cell_manifest(ops))
        model = M.load_model(self.dir)
        self.assertIn("body.cell0_0.edge2_1.conv.weight", shapes(model))
        x = torch.randn(2, 8, 6, 6)
        with torch.no_grad():
            self.assertTrue(torch.equal(model.body.cell0_0(x), x))
        # All "none": every cell gives zeros, so the logits ignore the image.
        write_export(self.dir / "zero", cell_manifest(["none"] * 6))
        zero = M.load_model(self.dir / "zero")
        logits = zero.logits(images(3))
        self.assertTrue(torch.equal(zero.body.cell0_0(x), torch.zeros_like(x)))
        torch.testing.assert_close(logits[0], logits[1])

    def test_odd_sizes_and_stem_stride(self):
        # 28 / stem 2 = 14 -> 7 -> 4: the reductions' ceil-mode pooling must
        # line up with their strided convs on the odd 7.
        write_export(self.dir, cell_manifest(self.OPS, stem_stride=2))
        model = M.load_model(self.dir)
        with torch.no_grad():
            y = model.body[:5](model.preprocess(images(2)))
        self.assertEqual(list(y.shape), [2, 16, 7, 7])
        self.assertEqual(list(model.logits(images(2)).shape), [2, 10])
        self.assertEqual(model.class_names, [str(i) for i in range(10)])


class RefusalTest(ExportTestCase):
    def test_corrupted_or_truncated_weights(self):
        write_export(self.dir, chain_manifest())
        path = self.dir / "weights.nastensor"
        data = bytearray(path.read_bytes())
        data[100] ^= 1
        path.write_bytes(bytes(data))
        with self.assertRaisesRegex(ValueError, "SHA-256 .* does not match"):
            M.load_model(self.dir)
        path.write_bytes(bytes(data[:-4]))
        with self.assertRaisesRegex(ValueError, "bytes, but model.json says"):
            M.load_model(self.dir)

    def test_unknown_format(self):
        (self.dir / "model.json").write_text(json.dumps(
            dict(chain_manifest(), format="nas-model/2")))
        with self.assertRaisesRegex(ValueError, 'format: "nas-model/2" is not '
                                                "nas-model/1"):
            M.read_manifest(self.dir)
        (self.dir / "model.json").write_text("[1, 2]")
        with self.assertRaisesRegex(ValueError, "not a model manifest"):
            M.load_model(self.dir)

    def test_bad_networks_name_the_field(self):
        cases = [
            (lambda m: m["network"]["chain"]["layers"][0].update(stride=3),
             r"network\.chain\.layers\[0\]\.stride: must be in \[1, 2\]"),
            (lambda m: m["network"]["chain"]["layers"][2].update(
                op="ir_k4_e3"),
             r'network\.chain\.layers\[2\]\.op: unknown chain op "ir_k4_e3"'),
            (lambda m: m["input"].update(std=[0.3, 0.3]),
             "one mean and one std per channel"),
            (lambda m: m.update(class_names=["a"]), "has 1 names for 10"),
            (lambda m: m.update(network={}), "network: needs cell or chain"),
            (lambda m: m["network"]["chain"].pop("stem_stride"),
             r"stem_stride: must be in \[1, 2\], got 0"),
        ]
        for change, message in cases:
            manifest = chain_manifest()
            change(manifest)
            write_export(self.dir, manifest, tensors={})
            with self.subTest(message), self.assertRaisesRegex(ValueError,
                                                               message):
                M.load_model(self.dir)
        cell = cell_manifest(["none"] * 5 + ["max_pool_3x3"])
        write_export(self.dir, cell, tensors={})
        with self.assertRaisesRegex(ValueError, r"edge_ops\[5\]: unknown op"):
            M.load_model(self.dir)

    def test_weights_that_do_not_fit_are_named(self):
        w = write_export(self.dir, chain_manifest())
        del w["body.layer2.body.4.running_var"]
        w["body.layer9.conv.weight"] = torch.zeros(1)
        w["classifier.bias"] = torch.zeros(11)
        write_export(self.dir, chain_manifest(), tensors=w)
        with self.assertRaises(ValueError) as caught:
            M.load_model(self.dir)
        message = str(caught.exception)
        self.assertIn("missing: body.layer2.body.4.running_var", message)
        self.assertIn("unexpected: body.layer9.conv.weight", message)
        self.assertIn("mis-shaped: classifier.bias [11] (network: [10])",
                      message)
        # A step counter is not a weight: the trainer never writes one.
        w = write_export(self.dir, chain_manifest())
        w["body.stem.bn.num_batches_tracked"] = torch.zeros(())
        write_export(self.dir, chain_manifest(), tensors=w)
        with self.assertRaisesRegex(ValueError,
                                    "unexpected: body.stem.bn.num_batches"):
            M.load_model(self.dir)


class PredictTest(ExportTestCase):
    def setUp(self):
        super().setUp()
        write_export(self.dir, chain_manifest(head=32))
        self.model = M.load_model(self.dir)

    def test_preprocess_normalises_like_the_worker(self):
        pixels = images(4)
        x = self.model.preprocess(pixels)
        self.assertEqual(x.dtype, torch.float32)
        # Bit for bit what nas-predict computes (worker/predict): float32
        # (pixel - float(255 mean)) / float(255 std), mean and std float32.
        mean, std = struct.unpack("<ff", struct.pack("<ff", 0.286, 0.353))
        shift = torch.tensor(255.0 * mean, dtype=torch.float32)
        scale = torch.tensor(255.0 * std, dtype=torch.float32)
        self.assertTrue(torch.equal(x, (pixels.float() - shift) / scale))
        torch.testing.assert_close(self.model.preprocess(pixels[:, 0].numpy()),
                                   x)
        floats = pixels.float()
        self.model.preprocess(floats)
        self.assertTrue(torch.equal(floats, pixels.float()))  # not in place
        with self.assertRaisesRegex(ValueError, r"takes \[N, 1, 28, 28\]"):
            self.model.preprocess(torch.zeros(2, 3, 28, 28))

    def test_predict_gives_probabilities(self):
        top = self.model.predict(images(3), top_k=3)
        self.assertEqual(len(top), 3)
        for row in top:
            self.assertEqual(len(row), 3)
            self.assertTrue(all(name in FASHION for name, _ in row))
            probs = [p for _, p in row]
            self.assertEqual(probs, sorted(probs, reverse=True))
        for row in self.model.predict(images(3), top_k=50):
            self.assertEqual(len(row), 10)
            self.assertAlmostEqual(sum(p for _, p in row), 1.0, places=5)
            self.assertEqual(sorted(n for n, _ in row), sorted(FASHION))

    def write_idx(self, pixels):
        path = self.dir / "images-idx3-ubyte"
        n, _, h, w = pixels.shape
        path.write_bytes(struct.pack(">IIII", 0x803, n, h, w) +
                         pixels.numpy().tobytes())
        return path

    def test_idx_files(self):
        pixels = images(4)
        path = self.write_idx(pixels)
        self.assertTrue(torch.equal(M.read_idx_images(path), pixels))
        self.assertEqual(self.model.predict(path), self.model.predict(pixels))
        path.write_bytes(path.read_bytes()[:-1])
        with self.assertRaisesRegex(ValueError, "does not match its header"):
            M.read_idx_images(path)

    def test_command_line_prints_logits(self):
        pixels = images(4)
        path = self.write_idx(pixels)
        run = subprocess.run(
            [sys.executable, str(MODEL_PY), str(self.dir), "--idx", str(path),
             "--count", "3", "--logits"], capture_output=True, text=True,
            check=True)
        lines = run.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        got = torch.tensor([[float(v) for v in line.split()]
                            for line in lines])
        torch.testing.assert_close(got, self.model.logits(pixels[:3]),
                                   rtol=1e-7, atol=1e-7)
        run = subprocess.run(
            [sys.executable, str(MODEL_PY), str(self.dir), "--idx", str(path)],
            capture_output=True, text=True, check=True)
        self.assertEqual(len(run.stdout.splitlines()), 4)
        run = subprocess.run(
            [sys.executable, str(MODEL_PY), str(self.dir), "--idx", str(path),
             "--count", "9"], capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertIn("holds 4 images", run.stderr)

    def test_package_load_model_is_lazy(self):
        try:
            import nas_client
        except ImportError as e:  # no gRPC stubs generated
            self.skipTest(f"nas_client does not import: {e}")
        self.assertIn("load_model", nas_client.__all__)
        model = nas_client.load_model(self.dir)
        torch.testing.assert_close(model.logits(images(2)),
                                   self.model.logits(images(2)))


class OnnxTest(ExportTestCase):
    def test_export_checks_with_a_dynamic_batch(self):
        try:
            import onnx
        except ImportError:
            self.skipTest("needs onnx (python3-onnx)")
        for name, manifest in (
                ("chain", chain_manifest(head=32)),
                ("cell", cell_manifest(CellNetworkTest.OPS, stem_stride=2)),
                ("zero", cell_manifest(["none"] * 6))):
            with self.subTest(name):
                write_export(self.dir / name, manifest)
                path = M.export_onnx(self.dir / name,
                                     self.dir / f"{name}.onnx")
                graph = onnx.load(str(path))
                onnx.checker.check_model(graph)
                self.assertEqual(graph.opset_import[0].version, 13)
                [inp] = graph.graph.input
                self.assertEqual(inp.name, "input")
                self.assertEqual(inp.type.tensor_type.shape.dim[0].dim_param,
                                 "batch")
                self.assertEqual([o.name for o in graph.graph.output],
                                 ["logits"])


if __name__ == "__main__":
    unittest.main()
