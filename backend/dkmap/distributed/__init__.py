"""Map builds on a Dask cluster (`dkmap build --engine dask`) and the sharded dataset layout they read."""

from dkmap.distributed.build import build_map_dask
from dkmap.distributed.shards import PartitionedDataset, write_shards
from dkmap.distributed.synthetic import write_synthetic_shards

__all__ = ["build_map_dask", "PartitionedDataset", "write_shards", "write_synthetic_shards"]
