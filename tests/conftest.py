import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_torch_determinism():
    """Training through the harness seeds and turns on deterministic algorithms process-wide; undo it
    after each test so that one test's run does not change how the next one computes."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
