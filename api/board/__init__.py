"""The rota board: a coordinator's page per rota, served by the service (``router.py``)."""
