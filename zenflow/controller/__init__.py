"""The JobFlow controller: reconcilers wired onto the machinery (``setup.setup_controllers``)."""
