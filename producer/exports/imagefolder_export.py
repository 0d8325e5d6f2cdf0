"""A Hugging Face image folder: every stored image under its job key as storage names it
(`{key}.jpg`; `{key}/{n}.jpg` for each image of a model that may answer with several), and
`metadata.jsonl` with one line per image (`file_name`, then the flat row), so that
`datasets.load_dataset("imagefolder", data_dir=DEST)` gives one row per image with its prompt,
parameters, metadata columns and `image_index`."""

import mimetypes

from producer.exports.destination import Destination, ImageSource
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.rows import flat_row, image_file_name, json_line

#: the file `datasets` reads an image folder's columns from
METADATA_FILE = "metadata.jsonl"


def export_imagefolder(
    rows: BatchRows, destination: Destination, source: ImageSource
) -> ExportResult:
    if destination.holds_anything():
        # `datasets` takes every image under the folder: strays would join the dataset silently
        raise ValueError(
            f"{destination.root} is not empty: an image folder is exported into an empty folder "
            "(Hugging Face datasets reads every image in it)"
        )
    columns = rows.metadata_columns(succeeded_only=True)
    images = image_bytes = missing = 0
    with destination.new_file(METADATA_FILE, "application/x-ndjson") as listing:
        for row in rows.rows(succeeded_only=True):
            file_name = image_file_name(row)
            if not destination.copy_image(
                file_name, row["output_uri"], source, image_type(file_name)
            ):
                missing += 1
                continue
            listing.write(json_line({"file_name": file_name, **flat_row(row, columns)}).encode())
            images += 1
            image_bytes += row["bytes"]
        listing_bytes = listing.tell()
    return ExportResult(
        rows=images,
        images=images,
        bytes=image_bytes + listing_bytes,
        location=destination.root,
        missing_images=missing,
    )


def image_type(file_name: str) -> str:
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"
