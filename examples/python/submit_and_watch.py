"""Submit a search, follow it live, print the best trials.

    python3 clients/python/generate_stubs.py      # once
    PYTHONPATH=clients/python python3 examples/python/submit_and_watch.py \
        examples/demo_fashion_mnist.yaml

The controller's address and credentials come from the same environment
variables as nasctl (NAS_CONTROLLER, NAS_PLAINTEXT, NAS_TOKEN, ...).
"""
import sys

import nas_client


def main(spec_path: str) -> int:
    with nas_client.Client() as nas:
        search = nas.submit(spec_path)
        print(f"search {search.id} ({search.name}) submitted")
        for warning in search.warnings:
            print("warning:", warning)
        for event in nas.watch(search.id):
            if event.kind == "trial_finished":
                t = event.trial
                score = t.metrics.get("val_accuracy")
                shown = f"{score:.4f}" if score is not None else "-"
                print(f"  #{t.number} {t.kind:15} {t.state:9} val {shown}"
                      f"  [{event.search.progress}]")
            elif event.kind == "search_done":
                print(f"search {event.search.state}"
                      f" {event.search.state_reason}".rstrip())
        for t in nas.best_trials(search.id, k=3).trials:
            print(f"best: #{t.number} {t.metrics} {t.architecture}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: submit_and_watch.py SPEC.yaml")
    sys.exit(main(sys.argv[1]))
