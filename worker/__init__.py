"""The worker side: call Cloudflare, fetch and check the image, store it, record the result."""
