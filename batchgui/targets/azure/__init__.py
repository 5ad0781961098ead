"""Azure Batch as a target: blobs in Azure Storage, a pool of nodes, one task per file."""
