"""A callback that SIGKILLs its own training process in the middle of a step (after the backward pass of
the step that would become ``step + 1``): the kill-and-resume tests add it by class path."""
import os
import signal

from lightning.pytorch import Callback


class KillAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_after_backward(self, trainer, pl_module) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
