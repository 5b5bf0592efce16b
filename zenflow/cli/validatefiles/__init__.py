"""The parts of ``zenflow validate`` beyond the shared validator: positions of fields in the files
(``marks``), every problem in one run past structural errors (``passes``, with what the API
models say about a field in ``models``), did-you-mean across nesting levels (``suggest``), and
the text and JSON reports (``output``)."""
