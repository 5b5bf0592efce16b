"""Terminal views of flows shared by the CLI, the kubectl plugin and the demo: the step table
with its DAG order (``flowview``) and the live redrawing view (``live``). Pure rendering over
raw JobFlow dicts; no API calls."""
