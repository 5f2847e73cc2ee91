"""Released checkpoints of the official code as ccrkit runs (`ccrkit import nrccr|ccrk`).

- `torchfile`: reading a `torch.save` file with PyTorch's restricted unpickler and an allow-list;
- `mapping`: prefix rules that place or knowingly drop every official tensor;
- `textmodel`: the `--text-model` folder (config + tokenizer) checked against the tensors;
- `clip`: OpenAI CLIP ViT weights as a Hugging Face CLIP vision tower;
- `nrccr` (with `nrccr_file`: the checkpoint read and checked, `nrccr_config`: its ccrkit run
  config) and `ccrk`: the two importers; `runfolder`: the run folder they write.
"""

from __future__ import annotations

from ccrkit.methods.official.torchfile import OfficialCheckpointError

__all__ = ["OfficialCheckpointError"]
