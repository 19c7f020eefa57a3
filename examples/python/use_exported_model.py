"""Use the model `nasctl export` wrote, in plain PyTorch: classify test
images, count parameters, and save it as ONNX.

    python3 clients/python/generate_stubs.py      # once
    PYTHONPATH=clients/python python3 examples/python/use_exported_model.py \
        .nas/model-1 data/fashion_mnist/t10k-images-idx3-ubyte \
        data/fashion_mnist/t10k-labels-idx1-ubyte

Needs python3-torch (and python3-onnx for the ONNX file).
"""
import pathlib
import sys

import nas_client
from nas_client.model import count_parameters, export_onnx, read_idx_images


def read_idx_labels(path: str) -> list:
    data = pathlib.Path(path).read_bytes()
    return list(data[8:])


def main(model_dir: str, images_path: str, labels_path: str) -> int:
    model = nas_client.load_model(model_dir)  # a torch.nn.Module, eval mode
    m = model.manifest
    print(f"search {m['search_id']} trial {m['trial_number']}: "
          f"{m['architecture'].get('text', '')}")
    print(f"{count_parameters(model)} parameters, input "
          f"{m['input']['channels']}x{m['input']['height']}x"
          f"{m['input']['width']}")
    images = read_idx_images(images_path)[:8]
    labels = read_idx_labels(labels_path)[:8]
    for i, (top, label) in enumerate(zip(model.predict(images, 2), labels)):
        guesses = ", ".join(f"{name} {p:.1%}" for name, p in top)
        print(f"  image {i}: {guesses}  (label: {model.class_names[label]})")
    onnx_path = pathlib.Path(model_dir) / "model.onnx"
    try:
        export_onnx(model, onnx_path)
        print(f"wrote {onnx_path}")
    except ImportError as e:  # torch.onnx needs onnx for some checks
        print(f"no ONNX file: {e}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
