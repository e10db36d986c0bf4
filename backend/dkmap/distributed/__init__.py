"""The Dask engine's parts (`dkmap build --engine dask`, through `dkmap.builder.build_map(...,
engine="dask")`): partitioned reads, per-partition tasks, reductions, the cluster-binned contour
field and Faiss indexes filled on workers."""

from dkmap.distributed.partitions import PartitionedDataset
from dkmap.distributed.synthetic import write_synthetic_shards

__all__ = ["PartitionedDataset", "write_synthetic_shards"]
