"""Helpers shared by zenflow's tests.

``wait``: the one way a test waits, ``eventually`` (poll a condition until it holds) and
``consistently`` (a condition holds until an event proves enough happened); no test sleeps and
then asserts. ``controller_process``: ``zenflow controller`` as a child process. ``jobflows``:
the JobFlow controller run in-process on the real control plane, flow builders, and
``Running.reconciled`` (the proof that the controller saw a flow's current state). ``plane``:
restarting the shared control plane's apiserver and waiting for it to recover.
"""
