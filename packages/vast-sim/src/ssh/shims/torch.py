# vast-sim: a stand-in for PyTorch, just enough for a host check: `import torch`, `torch.__version__`,
# `torch.version.cuda`, `torch.cuda.is_available()`, `device_count()` and `get_device_name(i)`. The host
# profile decides (VAST_SIM_TORCH): "cuda" sees the simulated GPUs, "cpu" is a CPU-only build, "missing"
# is no PyTorch at all.
import os

_mode = os.environ.get("VAST_SIM_TORCH", "cuda")
if _mode == "missing":
    raise ModuleNotFoundError("No module named 'torch'", name="torch")

__version__ = "2.13.0+cu130" if _mode == "cuda" else "2.13.0+cpu"


class _Version:
    cuda = "13.0" if _mode == "cuda" else None


version = _Version()


def _gpu_count():
    if _mode != "cuda" or os.environ.get("VAST_SIM_NVIDIA_SMI", "ok") != "ok":
        return 0
    try:
        return int(os.environ.get("VAST_SIM_GPU_COUNT", "1"))
    except ValueError:
        return 0


class _Cuda:
    @staticmethod
    def is_available():
        return _gpu_count() > 0

    @staticmethod
    def device_count():
        return _gpu_count()

    @staticmethod
    def get_device_name(index=0):
        if index >= _gpu_count():
            raise RuntimeError("CUDA error: invalid device ordinal")
        return os.environ.get("VAST_SIM_GPU_NAME", "RTX 4090")


cuda = _Cuda()
