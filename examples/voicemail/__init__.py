"""A small voicemail application tested on simulated calls (see ``app.py`` and ``test_app.py``)."""
