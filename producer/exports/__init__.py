"""`seedream-batch export`: a batch's results table (and its images) in the shape a training
pipeline reads: JSONL, CSV, Parquet, a Hugging Face image folder, or WebDataset shards.

The flow is the folder: `rows` turns a job into an export row, `reading` streams them from the
table in manifest order, `metadata_columns` finds the columns the flat formats need, one module
per format writes them, and `destination` puts the files in a folder or under a prefix of any
storage (worker.storage).
"""
