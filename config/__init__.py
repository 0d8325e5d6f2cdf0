"""Settings (one pydantic-settings class) and the Celery configuration built from them."""
