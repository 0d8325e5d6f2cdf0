"""What every stored image carries as object metadata: the job, its batch, its prompt's hash.

Enough to tie an object found in a bucket back to its row, and to tell two prompts apart, without
copying a prompt (a user's text, possibly long) into headers that S3 limits to 2 KB of ASCII.
"""

import hashlib

from jobs.records import Claim


def object_metadata(claim: Claim) -> dict[str, str]:
    """The metadata of the image(s) stored for `claim`'s job."""
    return {
        "job-id": str(claim.job_id),
        "batch": claim.batch.id,
        "prompt-sha256": hashlib.sha256(claim.spec.prompt.encode()).hexdigest(),
    }
