"""A test-only Lightning callback, loaded by class path in ``audiodiff fit`` subprocesses.

``RankProbe`` appends each optimizer step a rank finishes to ``$AUDIODIFF_PROBE_DIR/rank<R>.steps``
(sleeping ``$AUDIODIFF_PROBE_SLEEP`` seconds after it, so a test can kill a run midway) and, when
training ends, saves the rank's weights to ``rank<R>.safetensors``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from safetensors.torch import save_file


class RankProbe(Callback):
    def _folder(self) -> Path:
        return Path(os.environ["AUDIODIFF_PROBE_DIR"])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        with open(self._folder() / f"rank{trainer.global_rank}.steps", "a") as f:
            f.write(f"{trainer.global_step}\n")
        time.sleep(float(os.environ.get("AUDIODIFF_PROBE_SLEEP", "0")))

    def on_train_end(self, trainer, pl_module):
        weights = {k: v.detach().cpu().contiguous() for k, v in pl_module.model.state_dict().items()}
        save_file(weights, str(self._folder() / f"rank{trainer.global_rank}.safetensors"))
