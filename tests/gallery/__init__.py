"""The known-bug gallery: deliberately wrong conv2d callables (``buggy``) and correct, differently written ones
(``correct``). They live outside ``impls`` so the registry never sees them; ``tests/test_gallery.py`` hands them to
the property suite with ``--impl`` and checks that it catches every bug and flags no correct entry."""
