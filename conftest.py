"""Repository root marker for pytest: its folder goes on ``sys.path``, so the project's tests can import
``tests.gallery``. The suite's behaviour lives in the installed plug-in :mod:`convcheck.properties.plugin`."""
