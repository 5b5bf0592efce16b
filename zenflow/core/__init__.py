"""The pure core of zenflow: DAG engine, validation, CEL ``when`` expressions, ``{{ }}``
templating, naming and limits. Functions of (spec, observed state, now) returning decisions; no
I/O and no imports of kubernetes_asyncio, aiohttp or prometheus_client."""
