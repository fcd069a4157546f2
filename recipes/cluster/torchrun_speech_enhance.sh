#!/bin/bash
# Train speech enhancement with torchrun: run this on every node (NODE_RANK=0 on the first one).
#   MASTER=node0.example.org NNODES=2 NODE_RANK=0 bash recipes/cluster/torchrun_speech_enhance.sh
# Lightning detects the torchrun environment; --trainer.devices must equal --nproc-per-node.
set -euo pipefail
GPUS=${GPUS:-$(nvidia-smi -L | wc -l)}
torchrun --nnodes "${NNODES:-1}" --node-rank "${NODE_RANK:-0}" --nproc-per-node "$GPUS" \
    --rdzv-backend c10d --rdzv-endpoint "${MASTER:-localhost}:29500" \
    -m audiodiff.cli fit --config recipes/speech_enhance/voicebank_demand.yaml \
    --trainer.accelerator gpu --trainer.devices "$GPUS" --trainer.num_nodes "${NNODES:-1}" --trainer.strategy ddp \
    --ckpt_path last
