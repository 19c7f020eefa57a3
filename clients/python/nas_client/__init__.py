"""Python client of the NAS service (docs/python_client.md).

    import nas_client
    with nas_client.Client("localhost:50051", plaintext=True) as nas:
        search = nas.submit("examples/demo_fashion_mnist.yaml")
        for event in nas.watch(search.id):
            print(event.kind, event.search.progress)
        print(nas.best_trials(search.id))
"""
from nas_client.client import Client, NasError
from nas_client.records import (BestTrials, Event, Search, Trial,
                                trials_frame)

__all__ = ["Client", "NasError", "BestTrials", "Event", "Search", "Trial",
           "trials_frame", "load_model"]


def load_model(directory):
    """nas_client.model.load_model: an exported model (ExportModel's folder)
    as a PyTorch module. Imported on call, so that only scripts that load
    models need torch."""
    from nas_client import model
    return model.load_model(directory)
