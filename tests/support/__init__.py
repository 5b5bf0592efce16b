"""Helpers shared by zenflow's tests.

``wait``: the one way a test waits, ``eventually`` (poll a condition until it holds) and
``consistently`` (a condition holds until an event proves enough happened); no test sleeps and
then asserts. ``controller_process``: ``zenflow controller`` as a child process. ``jobflows``:
the JobFlow controller run in-process on the real control plane, and flow builders.
"""
