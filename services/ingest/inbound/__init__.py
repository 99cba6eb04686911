"""The Kafka way in: the inbound faust worker (`worker.py`) and its pure message checks (`checks.py`)."""
