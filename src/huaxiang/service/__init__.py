"""The live path's face: a FastAPI service (collector, updater, profile API) over a workspace.

Build the app with :func:`huaxiang.service.app.create_app`; run it with
``huaxiang serve``. FastAPI and uvicorn are imported only by the modules
of this package that need them.
"""
